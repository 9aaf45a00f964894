// The zod the CLI bundle carries (scripts/build.mjs aliases 'zod' to this file): the classic
// API the app uses, without the forty locales, JSON-schema tools and compilers that zod's
// own entry pulls in. English messages are zod's default (registered by schemas.js), so what
// a person reads is the same; a cold `vlx` run loads about 0.7 MB less.
import * as z from './zod-slim-api.mjs';
export * from './zod-slim-api.mjs';
export { z, z as default };
