import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { RATE_KINDS, type RateWindow } from '../rates.js';

const COLORS: Record<(typeof RATE_KINDS)[number], string> = {
  created: '#2563eb',
  completed: '#16a34a',
  canceled: '#a16207',
  failed: '#dc2626',
};

/**
 * Per-second rates over the last five minutes, redrawn every second. The
 * canvas is a picture for sighted users; the same figures are in the table
 * next to it (Overview), which is what screen readers get.
 */
export function RateChart({ rates }: { rates: RateWindow }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current!;
    const data = () => {
      const series = rates.series(Date.now());
      return [series.seconds, ...RATE_KINDS.map((kind) => series.counts[kind])] as uPlot.AlignedData;
    };
    const plot = new uPlot(
      {
        width: Math.max(240, element.clientWidth),
        height: 200,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [{}, { label: 'per second' }],
        series: [{}, ...RATE_KINDS.map((kind) => ({ label: kind, stroke: COLORS[kind], width: 2, points: { show: false } }))],
        legend: { live: false },
        cursor: { show: false },
      },
      data(),
      element,
    );
    const tick = setInterval(() => plot.setData(data()), 1_000);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, element.clientWidth), height: 200 }));
    resize.observe(element);
    return () => {
      clearInterval(tick);
      resize.disconnect();
      plot.destroy();
    };
  }, [rates]);
  return <div class="chart" ref={box} role="img" aria-label="Tasks created, completed, canceled and failed per second over the last five minutes" />;
}
