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

export const BulkRegisterInput = Type.Object(
  {
    password: Type.String({
      minLength: limits.passwordMinLength, maxLength: limits.passwordMaxLength,
    }),
    customers: Type.Array(
      Type.Object(
        {
          email: Type.String({ format: 'email', maxLength: limits.emailLength }),
          name: Type.String({ minLength: 1, maxLength: limits.nameLength }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: limits.bulkCustomers },
    ),
  },
  { additionalProperties: false },
);
export type BulkRegisterInput = Static<typeof BulkRegisterInput>;

export const BulkRegistered = Type.Object({
  /** Accounts created, each with a token; emails that already existed are left out. */
  data: Type.Array(Type.Object({
    customerId: Type.String(), email: Type.String(), token: Type.String(),
  })),
  skipped: Type.Integer(),
});
export type BulkRegistered = Static<typeof BulkRegistered>;
