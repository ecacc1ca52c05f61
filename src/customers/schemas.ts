/** Schemas for registration and login. */
import { Type, type Static } from 'typebox';
import { limits } from '../config/limits.js';

export const RegisterInput = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: limits.emailLength }),
    name: Type.String({ minLength: 1, maxLength: limits.nameLength }),
    password: Type.String({
      minLength: limits.passwordMinLength, maxLength: limits.passwordMaxLength,
    }),
  },
  { additionalProperties: false },
);
export type RegisterInput = Static<typeof RegisterInput>;

export const LoginInput = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: limits.emailLength }),
    password: Type.String({ minLength: 1, maxLength: limits.passwordMaxLength }),
  },
  { additionalProperties: false },
);
export type LoginInput = Static<typeof LoginInput>;

export const Session = Type.Object({ customerId: Type.String(), token: Type.String() });
export type Session = Static<typeof Session>;
