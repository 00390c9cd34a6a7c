// A small, safe markdown renderer for reports that come from the server.
//
// It builds DOM nodes with createElement/textContent only: untrusted text never
// reaches innerHTML, so "<script>" or "<img onerror=…>" in a report is shown as
// text. Supported: ATX headings, paragraphs, **bold**, *italic*, `code`, fenced
// code blocks, block quotes, bullet and numbered lists (nested by indent),
// tables with alignment, horizontal rules and [links](https://…) whose target
// is http(s) — any other link is shown as its label text.

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
// One cell of a table's separator row; the row is split on "|" first, so no
// pattern here can backtrack (the old one-regex row check was cubic: an 8 KB
// line of spaces took 55 s).
const SEPARATOR_CELL = /^:?-+:?$/;
const ESCAPABLE = "\\`*_{}[]()#+-.!|>~<";

/** Render `source` (markdown) into a DocumentFragment. */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  // CRLF is a line ending; a lone CR is not (it would let text such as a model
  // name in a table cell start a line of markdown of its own): it becomes a space.
  const lines = String(source ?? "").replace(/\r\n/g, "\n").replace(/\r/g, " ").split("\n");
  renderBlocks(lines, fragment);
  return fragment;
}

/** True when `href` is an absolute http(s) URL (the only links the renderer makes). */
export function isSafeUrl(href) {
  if (typeof href !== "string" || /[\u0000-\u0020\u007f]/.test(href)) return false;
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function renderBlocks(lines, parent) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      i = renderCode(lines, i, fence, parent);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(heading[1].length + 1, 6); // the page owns h1
      const h = el(`h${level}`);
      appendInline(h, heading[2]);
      parent.append(h);
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      parent.append(el("hr"));
      i += 1;
      continue;
    }
    if (isTableStart(lines, i)) {
      i = renderTable(lines, i, parent);
      continue;
    }
    if (QUOTE.test(line)) {
      const inner = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        inner.push(QUOTE.exec(lines[i])[1]);
        i += 1;
      }
      const quote = el("blockquote");
      renderBlocks(inner, quote);
      parent.append(quote);
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = renderList(lines, i, parent);
      continue;
    }
    i = renderParagraph(lines, i, parent);
  }
}

function startsBlock(lines, i) {
  const line = lines[i];
  return (
    !line.trim() ||
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    LIST_ITEM.test(line) ||
    isTableStart(lines, i)
  );
}

function renderParagraph(lines, start, parent) {
  const parts = [];
  let i = start;
  while (i < lines.length && (i === start || !startsBlock(lines, i))) {
    parts.push(lines[i].trim());
    i += 1;
  }
  const p = el("p");
  appendInline(p, parts.join(" "));
  parent.append(p);
  return i;
}

function renderCode(lines, start, fence, parent) {
  const marker = fence[1];
  const body = [];
  let i = start + 1;
  while (i < lines.length && !lines[i].trim().startsWith(marker)) {
    body.push(lines[i]);
    i += 1;
  }
  const pre = el("pre");
  const code = el("code");
  if (fence[2]) code.dataset.language = fence[2];
  code.textContent = body.join("\n");
  pre.append(code);
  pre.tabIndex = 0; // scrollable regions must be reachable by keyboard
  parent.append(pre);
  return i + 1; // past the closing fence (or the end)
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  const cells = [];
  let current = "";
  let inCode = false;
  for (let k = 0; k < row.length; k += 1) {
    const ch = row[k];
    if (ch === "\\" && row[k + 1] === "|") {
      current += "|";
      k += 1;
    } else if (ch === "`") {
      inCode = !inCode;
      current += ch;
    } else if (ch === "|" && !inCode) {
      cells.push(current.trim());
      current = "";
    } else {
      current += ch;
    }
  }
  cells.push(current.trim());
  return cells;
}

function isTableStart(lines, i) {
  return (
    i + 1 < lines.length &&
    lines[i].includes("|") &&
    isTableSeparator(lines[i + 1])
  );
}

function isTableSeparator(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|")) text = text.slice(0, -1);
  return text.includes("-") && text.split("|").every((cell) => SEPARATOR_CELL.test(cell.trim()));
}

function renderTable(lines, start, parent) {
  const header = splitRow(lines[start]);
  const aligns = splitRow(lines[start + 1]).map((cell) => {
    const left = cell.startsWith(":");
    const right = cell.endsWith(":");
    if (left && right) return "center";
    if (right) return "right";
    return left ? "left" : "";
  });
  const wrap = el("div", "table-wrap");
  wrap.tabIndex = 0;
  wrap.setAttribute("role", "region");
  wrap.setAttribute("aria-label", "Table");
  const table = el("table");
  const thead = el("thead");
  const headRow = el("tr");
  header.forEach((cell, col) => {
    const th = el("th");
    th.scope = "col";
    if (aligns[col]) th.className = `align-${aligns[col]}`;
    appendInline(th, cell);
    headRow.append(th);
  });
  thead.append(headRow);
  table.append(thead);
  const tbody = el("tbody");
  let i = start + 2;
  while (i < lines.length && lines[i].trim() && lines[i].includes("|")) {
    const cells = splitRow(lines[i]);
    const tr = el("tr");
    for (let col = 0; col < header.length; col += 1) {
      const td = el("td");
      if (aligns[col]) td.className = `align-${aligns[col]}`;
      appendInline(td, cells[col] ?? "");
      tr.append(td);
    }
    tbody.append(tr);
    i += 1;
  }
  table.append(tbody);
  wrap.append(table);
  parent.append(wrap);
  return i;
}

function renderList(lines, start, parent) {
  const first = LIST_ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = el(ordered ? "ol" : "ul");
  if (ordered) {
    const number = parseInt(first[2], 10);
    if (number !== 1) list.start = number;
  }
  let i = start;
  let item = null;
  let itemLines = [];
  const flush = () => {
    if (item) {
      renderListItem(itemLines, item);
      list.append(item);
    }
  };
  while (i < lines.length) {
    const line = lines[i];
    const match = LIST_ITEM.exec(line);
    if (match && match[1].length === indent && /\d/.test(match[2]) === ordered) {
      flush();
      item = el("li");
      itemLines = [match[3]];
      i += 1;
      continue;
    }
    if (match && match[1].length < indent) break;
    if (!line.trim()) {
      // a blank line ends the list unless the next line continues it (indented or an item)
      const next = lines[i + 1];
      const nextItem = next !== undefined ? LIST_ITEM.exec(next) : null;
      if (next === undefined || !(nextItem || /^\s{2,}\S/.test(next))) break;
      itemLines.push("");
      i += 1;
      continue;
    }
    if (match || /^\s+\S/.test(line)) {
      // a nested list or a continuation line, relative to this item
      itemLines.push(line.slice(Math.min(indent + 2, line.search(/\S/))));
      i += 1;
      continue;
    }
    if (startsBlock(lines, i)) break;
    itemLines.push(line.trim()); // lazy continuation of the item's paragraph
    i += 1;
  }
  flush();
  parent.append(list);
  return i;
}

function renderListItem(itemLines, item) {
  // A simple item is inline text; an item with a nested block gets block children.
  const nested = itemLines.slice(1).some((l) => LIST_ITEM.test(l) || FENCE.test(l));
  if (!nested) {
    appendInline(item, itemLines.filter((l) => l.trim()).join(" "));
    return;
  }
  let k = 0;
  const text = [];
  while (k < itemLines.length && !(k > 0 && (LIST_ITEM.test(itemLines[k]) || FENCE.test(itemLines[k])))) {
    if (itemLines[k].trim()) text.push(itemLines[k].trim());
    k += 1;
  }
  appendInline(item, text.join(" "));
  renderBlocks(itemLines.slice(k), item);
}

// ------------------------------------------------------------------ inline

/** Append the inline markdown `text` to `parent` as DOM nodes. */
export function appendInline(parent, text) {
  for (const node of parseInline(String(text))) parent.append(node);
}

function parseInline(text) {
  const nodes = [];
  let buffer = "";
  const flush = () => {
    if (buffer) nodes.push(document.createTextNode(buffer));
    buffer = "";
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const ticks = /^`+/.exec(text.slice(i))[0];
      const end = text.indexOf(ticks, i + ticks.length);
      if (end > -1) {
        flush();
        const code = el("code");
        code.textContent = text.slice(i + ticks.length, end).replace(/^ (.+) $/, "$1");
        nodes.push(code);
        i = end + ticks.length;
        continue;
      }
      buffer += ticks;
      i += ticks.length;
      continue;
    }
    if ((ch === "*" || ch === "_") && text[i + 1] === ch) {
      const delim = ch + ch;
      const end = findClosing(text, delim, i + 2);
      if (end > i + 2 && canOpen(text, i, delim) && canClose(text, end, delim)) {
        flush();
        const strong = el("strong");
        appendInline(strong, text.slice(i + 2, end));
        nodes.push(strong);
        i = end + 2;
        continue;
      }
    } else if (ch === "*" || ch === "_") {
      const end = findClosing(text, ch, i + 1);
      if (end > i + 1 && canOpen(text, i, ch) && canClose(text, end, ch)) {
        flush();
        const em = el("em");
        appendInline(em, text.slice(i + 1, end));
        nodes.push(em);
        i = end + 1;
        continue;
      }
    }
    if (ch === "[") {
      const link = parseLink(text, i);
      if (link) {
        flush();
        if (isSafeUrl(link.href)) {
          const a = el("a");
          a.href = link.href;
          a.rel = "noopener noreferrer nofollow";
          a.target = "_blank";
          appendInline(a, link.label);
          nodes.push(a);
        } else {
          // not an http(s) link: keep the words, drop the target
          for (const node of parseInline(link.label)) nodes.push(node);
        }
        i = link.end;
        continue;
      }
    }
    buffer += ch;
    i += 1;
  }
  flush();
  return nodes;
}

function findClosing(text, delim, from) {
  let k = from;
  while (k < text.length) {
    if (text[k] === "\\") {
      k += 2;
      continue;
    }
    if (text[k] === "`") {
      const ticks = /^`+/.exec(text.slice(k))[0];
      const end = text.indexOf(ticks, k + ticks.length);
      k = end > -1 ? end + ticks.length : k + ticks.length;
      continue;
    }
    if (text.startsWith(delim, k) && (delim.length === 2 || text[k + 1] !== delim)) {
      if (delim.length === 2 || text[k - 1] !== delim) return k;
    }
    k += 1;
  }
  return -1;
}

const WORD = /[\p{L}\p{N}]/u;

function canOpen(text, i, delim) {
  const next = text[i + delim.length];
  if (next === undefined || /\s/.test(next)) return false;
  // intra-word underscores (snake_case) are not emphasis
  return !(delim[0] === "_" && i > 0 && WORD.test(text[i - 1]));
}

function canClose(text, end, delim) {
  if (/\s/.test(text[end - 1])) return false;
  const after = text[end + delim.length];
  return !(delim[0] === "_" && after !== undefined && WORD.test(after));
}

function parseLink(text, start) {
  let depth = 0;
  let k = start;
  for (; k < text.length; k += 1) {
    if (text[k] === "\\") {
      k += 1;
    } else if (text[k] === "[") {
      depth += 1;
    } else if (text[k] === "]") {
      depth -= 1;
      if (depth === 0) break;
    }
  }
  if (k >= text.length || text[k + 1] !== "(") return null;
  const close = text.indexOf(")", k + 2);
  if (close < 0) return null;
  const target = text.slice(k + 2, close).trim();
  const href = target.split(/\s+/)[0].replace(/^<(.*)>$/, "$1");
  return { label: text.slice(start + 1, k), href, end: close + 1 };
}
