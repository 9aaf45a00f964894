// C sources are imported as text (esbuild loader / vitest plugin), like the SQL migrations.
declare module '*.c' {
  const text: string;
  export default text;
}
