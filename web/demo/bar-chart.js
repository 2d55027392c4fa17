// A horizontal bar chart made of plain elements (styled by style.css): one row per label.

/**
 * Fill `container` with one row per label; returns the rows' parts to update.
 * @param {HTMLElement} container
 * @param {string[]} labels
 * @returns {{ bar: HTMLElement, value: HTMLElement, track: HTMLElement }[]}
 */
export function buildBarChart(container, labels) {
  container.replaceChildren();
  return labels.map((label) => {
    const row = document.createElement("div");
    row.className = "bar-row";
    const name = document.createElement("span");
    name.textContent = label;
    const track = document.createElement("div");
    track.className = "bar-track";
    const bar = document.createElement("div");
    bar.className = "bar";
    track.append(bar);
    const value = document.createElement("span");
    value.className = "bar-value";
    row.append(name, track, value);
    container.append(row);
    return { bar, value, track };
  });
}

/**
 * Show `values` (scaled so that `scale` fills a bar) with three decimals.
 * @param {{ bar: HTMLElement, value: HTMLElement, track: HTMLElement }[]} rows
 * @param {ArrayLike<number>} values
 * @param {number} scale
 */
export function drawBarChart(rows, values, scale) {
  Array.from(values).forEach((v, i) => {
    rows[i].bar.style.width = `${(100 * v) / scale}%`;
    rows[i].value.textContent = v.toFixed(3);
    rows[i].track.title = String(v);
  });
}
