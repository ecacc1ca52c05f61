/** Customer accounts: register, log in, and the guard pages use to ask for a session. */
export { LoginPage, RegisterPage } from './components/AccountForm';
export { RequireSession } from './components/RequireSession';
