import { useEffect, useRef, type ReactNode } from 'react';
import type { ShownError } from '../api.js';

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>Loading {what}…</span>
    </div>
  );
}

export function ErrorState({ error, what, onRetry }: { error: ShownError; what: string; onRetry?: () => void }) {
  const notYet = /^not available yet/.test(error.message);
  return (
    <div className={`state state-error${notYet ? ' state-pending' : ''}`} role="alert">
      <div className="state-title">{notYet ? 'Not available yet' : `Could not load ${what}`}</div>
      <div className="state-text">{notYet ? `This build cannot show ${what} yet: ${error.message.replace(/^not available yet: /, '')} is not wired in.` : error.message}</div>
      {error.hint && !notYet && <div className="state-hint">{error.hint}</div>}
      <div className="state-meta">code: {error.code}</div>
      {onRetry && <button className="btn" onClick={onRetry}>Retry</button>}
    </div>
  );
}

export function Empty({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="state state-empty">
      <div className="state-title">{title}</div>
      {children && <div className="state-text">{children}</div>}
      {action}
    </div>
  );
}

export function InlineError({ error }: { error?: ShownError }) {
  if (!error) return null;
  return (
    <div className="inline-error" role="alert">
      <strong>{error.message}</strong>
      {error.hint && <div className="hint">{error.hint}</div>}
    </div>
  );
}

export function Progress({ value, state = 'running', label }: { value: number; state?: string; label?: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className={`progress progress-${state}`} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={label ?? 'progress'}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

/** used/total as a thin bar that turns amber near full and red past it */
export function UsageBar({ used, total, label, unit }: { used: number; total: number; label: string; unit: string }) {
  const frac = total > 0 ? used / total : 0;
  const level = frac > 1 ? 'over' : frac >= 0.85 ? 'high' : 'ok';
  return (
    <div className="usage" title={`${label}: ${used} of ${total} ${unit}`}>
      <span className="usage-label">{label}</span>
      <div className={`usage-bar usage-${level}`}><div style={{ width: `${Math.min(100, frac * 100)}%` }} /></div>
      <span className="usage-num">{used}/{total}{unit === 'MB' ? '' : ''} <span className="unit">{unit}</span></span>
    </div>
  );
}

export function Badge({ state, children }: { state: string; children?: ReactNode }) {
  return <span className={`badge badge-${state}`}>{children ?? state}</span>;
}

export function Dialog({ title, children, footer, onClose, wide }: { title: string; children: ReactNode; footer: ReactNode; onClose: () => void; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>('input, select, button.primary, button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', onKey);
    return () => { window.removeEventListener('keydown', onKey); prev?.focus?.(); };
  }, [onClose]);
  return (
    <div className="backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div className={`dialog${wide ? ' dialog-wide' : ''}`} role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <div className="dialog-head">{title}</div>
        <div className="dialog-body">{children}</div>
        <div className="dialog-foot">{footer}</div>
      </div>
    </div>
  );
}

export function Field({ label, error, hint, children, id }: { label: string; error?: string; hint?: string; children: ReactNode; id: string }) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error ? <div className="field-error" id={`${id}-err`}>{error}</div> : hint ? <div className="field-hint">{hint}</div> : null}
    </div>
  );
}

export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(iso).toLocaleDateString();
}

export function duration(from: string, to?: string): string {
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
}
