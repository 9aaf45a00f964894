declare module '*.css';

interface Window {
  /** Set by the Electron preload; absent in a browser (the WebSocket bridge is used then). */
  vlx?: {
    invoke(channel: string, input: unknown): Promise<unknown>;
    subscribe(listener: (name: string, payload: unknown) => void): () => void;
  };
}
