// Brings up the lab once for all integration tests (filled in by the lab module).
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
