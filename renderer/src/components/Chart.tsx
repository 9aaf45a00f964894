import { useEffect, useRef } from 'react';
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip,
  type ChartConfiguration,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement, Title, Tooltip);

/**
 * A thin React wrapper over Chart.js: the chart is made once per canvas and updated in place
 * when its configuration changes. `onReady` hands the chart to the caller (PNG export).
 * No animation: a chart shows its values at once, and a screenshot shows what is there.
 */
export function ChartCanvas({ config, label, onReady, height = 280 }: {
  config: ChartConfiguration;
  label: string;
  onReady?: (chart: Chart | undefined) => void;
  height?: number;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | undefined>(undefined);
  useEffect(() => {
    if (!canvas.current) return;
    const cfg = { ...config, options: { ...config.options, animation: false as const, maintainAspectRatio: false, responsive: true } };
    if (chart.current && (chart.current.config as { type?: string }).type === config.type) {
      chart.current.data = cfg.data;
      chart.current.options = cfg.options ?? {};
      chart.current.update();
    } else {
      chart.current?.destroy();
      chart.current = new Chart(canvas.current, cfg as ChartConfiguration);
      onReady?.(chart.current);
    }
  }, [config, onReady]);
  useEffect(() => () => { chart.current?.destroy(); chart.current = undefined; onReady?.(undefined); }, [onReady]);
  return (
    <div className="chart-box" style={{ height }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}

/** Save text or a data URL as a file through a link the browser downloads. */
export function download(name: string, content: string, type = 'text/csv'): void {
  const url = content.startsWith('data:') ? content : URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  if (!content.startsWith('data:')) setTimeout(() => URL.revokeObjectURL(url), 1000);
}
