// User administration for the built-in token service (the console's users page uses it), behind
// the `registry:users:*` grant:
//   GET    /admin/users                  [{name, access}] (never a hash)
//   POST   /admin/users                  {name, password, access[]}: 201, 409 when it exists
//   DELETE /admin/users/:user            204
//   PUT    /admin/users/:user/password   {password}: 204 (the user's refresh tokens stop working)
//   PUT    /admin/users/:user/access     {access[]}: 204 (same)
// Bodies are small JSON; passwords are hashed at once and never logged or echoed.
import express, { type Request, type Router } from 'express';
import type { AccessController } from '../auth/access.js';
import type { UsersFile } from '../auth/users.js';
import { RegistryError } from '../errors.js';

export const USERS_ACCESS = { type: 'registry', name: 'users', actions: ['*'] };

export function adminUsersRouter(opts: { auth: AccessController; users: UsersFile }): Router {
  const router = express.Router();
  const json = express.json({ limit: '64kb' });
  router.use('/admin/users', async (req, res, next) => {
    await opts.auth.authorize(req, [USERS_ACCESS]);
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.get('/admin/users', (_req, res) => {
    const users = Object.entries(opts.users.read()).map(([name, u]) => ({
      name,
      access: u.access,
    }));
    res.status(200).json({ users: users.sort((a, b) => (a.name < b.name ? -1 : 1)) });
  });
  router.post('/admin/users', json, (req, res) => {
    const name = field(req, 'name');
    if (Object.hasOwn(opts.users.read(), name))
      throw new RegistryError('UNSUPPORTED', `user "${name}" exists`, undefined, { status: 409 });
    opts.users.add(name, field(req, 'password'), grants(req));
    res.status(201).setHeader('Content-Length', '0').end();
  });
  router.delete('/admin/users/:user', (req, res) => {
    opts.users.remove(req.params.user as string);
    res.status(204).end();
  });
  router.put('/admin/users/:user/password', json, (req, res) => {
    opts.users.update(req.params.user as string, { password: field(req, 'password') });
    res.status(204).end();
  });
  router.put('/admin/users/:user/access', json, (req, res) => {
    opts.users.update(req.params.user as string, { access: grants(req) });
    res.status(204).end();
  });
  return router;
}

function body(req: Request): Record<string, unknown> {
  const b: unknown = req.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw badRequest('expected a JSON object body (Content-Type: application/json)');
  return b as Record<string, unknown>;
}

function field(req: Request, name: string): string {
  const v = body(req)[name];
  if (typeof v !== 'string' || v === '') throw badRequest(`"${name}" must be a non-empty string`);
  return v;
}

function grants(req: Request): string[] {
  const v = body(req).access;
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'string'))
    throw badRequest('"access" must be a list of grants such as "repository:team-a/*:pull,push"');
  return v as string[];
}

function badRequest(message: string): RegistryError {
  return new RegistryError('UNSUPPORTED', message, undefined, { status: 400 });
}
