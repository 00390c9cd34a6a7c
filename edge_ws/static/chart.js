// An answer's chart data (the run result's `chart`: {type, measure, labels, series})
// as inline SVG built with DOM calls: a line for spend over time, bars for a ranking.
// Every label is set with textContent; the markdown table above stays the accessible
// fallback, and the SVG carries a text summary in its aria-label.

const SVG = "http://www.w3.org/2000/svg";
const MAX_BARS = 12;

function node(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function shown(value, measure) {
  if (measure === "share_of_spend") return `${(value * 100).toFixed(1)}%`;
  if (String(measure).startsWith("cost")) return `$${value.toFixed(value < 1 ? 4 : 2)}`;
  return Math.round(value).toLocaleString("en-US");
}

function dataOf(chart) {
  if (!chart || typeof chart !== "object") return null;
  const { labels, series } = chart;
  if (!Array.isArray(labels) || !Array.isArray(series) || !series.length) return null;
  const values = series[0] && Array.isArray(series[0].values) ? series[0].values : null;
  if (!values || values.length !== labels.length || !values.length) return null;
  return {
    labels: labels.map((label) => String(label)),
    values: values.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : 0)),
    measure: String(chart.measure ?? "cost"),
  };
}

function lineChart({ labels, values, measure }) {
  const width = 320;
  const height = 120;
  const top = Math.max(...values) || 1;
  const x = (i) => (values.length === 1 ? width / 2 : 10 + (i * (width - 20)) / (values.length - 1));
  const y = (v) => 24 + (1 - v / top) * (height - 54);
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg chart-line" });
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  svg.append(node("polyline", { points, class: "chart-stroke" }));
  values.forEach((v, i) => svg.append(node("circle", { cx: x(i), cy: y(v), r: 3, class: "chart-point" })));
  svg.append(node("text", { x: 10, y: height - 8, class: "chart-text" }, labels[0]));
  svg.append(
    node("text", { x: width - 10, y: height - 8, "text-anchor": "end", class: "chart-text" }, labels[labels.length - 1]),
  );
  svg.append(node("text", { x: 10, y: 10, class: "chart-text" }, `max ${shown(top, measure)}`));
  return svg;
}

function barChart({ labels, values, measure }) {
  const rows = Math.min(labels.length, MAX_BARS);
  const width = 320;
  const row = 24;
  const top = Math.max(...values.slice(0, rows)) || 1;
  const svg = node("svg", { viewBox: `0 0 ${width} ${rows * row}`, class: "chart-svg chart-bars" });
  for (let i = 0; i < rows; i += 1) {
    const y = i * row;
    const label = labels[i].length > 18 ? `${labels[i].slice(0, 17)}…` : labels[i];
    svg.append(node("text", { x: 0, y: y + 16, class: "chart-text" }, label));
    const length = Math.max(1, (values[i] / top) * 120);
    svg.append(node("rect", { x: 130, y: y + 5, width: length.toFixed(1), height: 14, class: "chart-bar" }));
    svg.append(node("text", { x: 134 + length, y: y + 16, class: "chart-text" }, shown(values[i], measure)));
  }
  return svg;
}

/** The chart as a <figure> with an SVG, or null when there is no chart data. */
export function renderChart(chart) {
  const data = dataOf(chart);
  if (!data) return null;
  const figure = document.createElement("figure");
  figure.className = "chart";
  const svg = chart.type === "line" ? lineChart(data) : barChart(data);
  svg.setAttribute("role", "img");
  const summary = data.labels
    .slice(0, MAX_BARS)
    .map((label, i) => `${label}: ${shown(data.values[i], data.measure)}`)
    .join(", ");
  svg.setAttribute("aria-label", `${data.measure.replaceAll("_", " ")} chart. ${summary}`);
  const caption = document.createElement("figcaption");
  caption.className = "chart-caption";
  caption.textContent = `${data.measure.replaceAll("_", " ")}, ${chart.type === "line" ? "over time" : "ranked"}`;
  figure.append(svg, caption);
  return figure;
}
