// SQL files are imported as text (esbuild loader / vitest plugin): see migrations/index.ts.
declare module '*.sql' {
  const text: string;
  export default text;
}
