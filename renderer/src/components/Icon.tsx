/** Small line icons drawn inline (no icon font: the CSP allows only our own files). */
const PATHS: Record<string, string> = {
  connect: 'M4 12h5m6 0h5M9 8v8m6-8v8M9 12h6',
  topology: 'M4 5h16v4H4zM4 15h16v4H4zM7 7h.01M7 17h.01',
  vcs: 'M3 6h7v5H3zM14 6h7v5h-7zM3 14h7v5H3zM14 14h7v5h-7z',
  volumes: 'M5 5c0-1 3-2 7-2s7 1 7 2v14c0 1-3 2-7 2s-7-1-7-2zM5 5c0 1 3 2 7 2s7-1 7-2M5 12c0 1 3 2 7 2s7-1 7-2',
  consoles: 'M3 5h18v14H3zM7 10l3 2-3 2M12 15h5',
  images: 'M4 5h16v14H4zM4 15l5-5 4 4 3-3 4 4M15 9h.01',
  exec: 'M4 6l5 5-5 5M11 17h9',
  nodes: 'M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01M12 7h5M12 17h5',
  install: 'M12 3v11m-4-4 4 4 4-4M4 15v4h16v-4',
  experiments: 'M4 20h16M6 20V12h3v8M11 20V6h3v14M16 20v-5h3v5',
  tasks: 'M9 6h11M9 12h11M9 18h11M4 6l1 1 2-2M4 12l1 1 2-2M4 18l1 1 2-2',
};

export function Icon({ name }: { name: string }) {
  return (
    <svg className="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round">
      <path d={PATHS[name] ?? ''} />
    </svg>
  );
}
