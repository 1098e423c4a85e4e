// Charts drawn as inline SVG: a handful of shapes, no library, readable by screen readers
// through the title and the table each chart stands beside.

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * Arrivals over time: a bar per bucket (arrivals in that bucket) and a line of the running
 * total. times: Date objects; bucketMinutes: the bars' width; format: Date → "09:15".
 */
export function arrivalsChart(times, { bucketMinutes = 5, format, title, width = 720, height = 260 }) {
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": title,
    class: "chart arrivals",
  });
  svg.append(s("title", {}, title));
  const pad = { left: 48, right: 56, top: 16, bottom: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const sorted = [...times].sort((a, b) => a - b);
  const step = bucketMinutes * 60000;
  const first = sorted.length ? Math.floor(sorted[0] / step) * step : Math.floor(Date.now() / step) * step;
  const last = sorted.length ? Math.floor(sorted[sorted.length - 1] / step) * step : first;
  const buckets = Math.max(1, Math.round((last - first) / step) + 1);
  const counts = new Array(buckets).fill(0);
  for (const t of sorted) counts[Math.round((Math.floor(t / step) * step - first) / step)] += 1;
  const maxBar = Math.max(1, ...counts);
  const total = sorted.length;
  const maxTotal = Math.max(1, total);
  const barW = plotW / buckets;
  const x = (i) => pad.left + i * barW;
  const yBar = (v) => pad.top + plotH - (plotH * v) / maxBar;
  const yTotal = (v) => pad.top + plotH - (plotH * v) / maxTotal;

  // Axes and gridlines for the bars (left) and the running total (right).
  svg.append(s("line", { x1: pad.left, y1: pad.top + plotH, x2: pad.left + plotW, y2: pad.top + plotH, class: "axis" }));
  for (const v of [0, Math.ceil(maxBar / 2), maxBar]) {
    svg.append(s("text", { x: pad.left - 8, y: yBar(v) + 5, "text-anchor": "end", class: "tick bar-tick" }, String(v)));
  }
  for (const v of [0, Math.ceil(maxTotal / 2), maxTotal]) {
    svg.append(s("text", { x: pad.left + plotW + 8, y: yTotal(v) + 5, class: "tick total-tick" }, String(v)));
  }
  counts.forEach((count, i) => {
    if (!count) return;
    const rect = s("rect", {
      x: x(i) + 1,
      y: yBar(count),
      width: Math.max(1, barW - 2),
      height: pad.top + plotH - yBar(count),
      class: "bar",
    });
    rect.append(s("title", {}, `${format(new Date(first + i * step))} +${count}`));
    svg.append(rect);
  });
  // The running total as a step line through the bucket ends.
  let running = 0;
  const points = [`${pad.left},${yTotal(0)}`];
  counts.forEach((count, i) => {
    running += count;
    points.push(`${x(i)},${yTotal(running - count)}`, `${x(i + 1)},${yTotal(running)}`);
  });
  svg.append(s("polyline", { points: points.join(" "), class: "total-line", fill: "none" }));
  // Time labels: at most about eight, on bucket boundaries.
  const every = Math.max(1, Math.ceil(buckets / 8));
  for (let i = 0; i <= buckets; i += every) {
    svg.append(
      s("text", { x: x(i), y: pad.top + plotH + 22, "text-anchor": "middle", class: "tick" }, format(new Date(first + i * step))),
    );
  }
  return svg;
}

/** A horizontal bar of done out of all, with the numbers written beside it. */
export function progressBar(done, all, title) {
  const width = 300;
  const share = all ? done / all : 0;
  const svg = s("svg", { viewBox: `0 0 ${width} 24`, role: "img", "aria-label": title, class: "chart progress" });
  svg.append(s("title", {}, title));
  svg.append(s("rect", { x: 0, y: 2, width, height: 20, rx: 6, class: "progress-track" }));
  svg.append(s("rect", { x: 0, y: 2, width: Math.round(width * share), height: 20, rx: 6, class: "progress-fill" }));
  return svg;
}
