/** The page's h1 and document title together, so every page names itself to screen readers. */
import { useEffect } from 'react';
import { copy } from '../lib/copy';

export function PageTitle({ title, visible = true }: { title: string; visible?: boolean }) {
  useEffect(() => {
    document.title = `${title} · ${copy.app.name}`;
  }, [title]);
  return <h1 className={visible ? undefined : 'visually-hidden'}>{title}</h1>;
}
