// Imports a module of web/ under Node (see vendor-hooks.mjs).
import { register } from 'node:module';
register('./vendor-hooks.mjs', import.meta.url);
export const web = (name) => import(new URL(`../../web/${name}`, import.meta.url));
