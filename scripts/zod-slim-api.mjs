// See zod-slim.mjs. By file path: zod's package exports do not list these files. The members of zod's classic entry (v4/classic/external.js) the app may use.
export * from '../node_modules/zod/v4/classic/schemas.js';
export * from '../node_modules/zod/v4/classic/checks.js';
export * from '../node_modules/zod/v4/classic/errors.js';
export * from '../node_modules/zod/v4/classic/parse.js';
export * from '../node_modules/zod/v4/classic/compat.js';
export { config, prettifyError, treeifyError, formatError, flattenError, NEVER } from '../node_modules/zod/v4/core/index.js';
