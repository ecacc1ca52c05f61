/** Catches a page that throws while rendering, so one broken page never blanks the app. */
import { Component, type ReactNode } from 'react';
import { copy } from '../lib/copy';

interface State {
  failed: boolean;
}

export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { failed: false };

  static getDerivedStateFromError(): State {
    return { failed: true };
  }

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert" className="notice error">
        <p>{copy.problems.fallback}</p>
        <button type="button" onClick={() => window.location.reload()}>{copy.app.retry}</button>
      </div>
    );
  }
}
