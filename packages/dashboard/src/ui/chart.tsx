import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  color: string;
  values: number[];
}

/**
 * A small time-series chart (uPlot, ~45 KB). `times` are seconds since the epoch. The chart is
 * an image for assistive technology; `summary` is what it says in words.
 */
export function Chart(props: { times: number[]; series: Series[]; summary: string; height?: number; bars?: boolean }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot>();
  const shape = props.series.map((s) => s.label).join("|");
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const width = Math.max(320, element.clientWidth || 640);
    plot.current = new uPlot(
      {
        width,
        height: props.height ?? 200,
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            points: { show: false },
            fill: `${s.color}22`,
            ...(props.bars ? { paths: uPlot.paths.bars?.({ size: [0.6, 40] }) } : {}),
          })),
        ],
        axes: [{ stroke: "#374151" }, { stroke: "#374151" }],
        legend: { show: true },
        cursor: { show: true },
      },
      [props.times, ...props.series.map((s) => s.values)],
      element,
    );
    const resize = () =>
      plot.current?.setSize({ width: Math.max(320, element.clientWidth), height: props.height ?? 200 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData([props.times, ...props.series.map((s) => s.values)]);
  }, [props.times, props.series]);
  return <div class="chart" ref={host} role="img" aria-label={props.summary} />;
}
