// Documents into passages for search: paragraph-sized, never longer than the embedder
// reads (maxTokens, [CLS] and [SEP] included). The same algorithm as split_passages in
// sitebuild/search_sample.py, which splits the sample corpus at build time (the tests
// compare the two on the same documents).
//
//  - Paragraphs are separated by blank lines; inside one, every run of whitespace becomes
//    one space.
//  - A paragraph of maxTokens tokens or more is cut at sentence ends (. ! ? … and 。！？),
//    the sentences packed up to TARGET_TOKENS; a sentence that long is cut by tokens
//    (between words, or between characters when a word alone is too long).
//  - A passage under SHORT_TOKENS tokens (a heading, a one-line paragraph) takes in the next
//    paragraph of the same file when both fit in TARGET_TOKENS (joined by a blank line); a
//    short last passage joins the one before it.
//
// Token counts come from the embedder's own tokenizer (`count(text)`: the number of ids
// `tokenize` returns, which stops at maxTokens); counts of joined texts are sums (the
// tokenizer splits at whitespace), so each paragraph is measured once.

export const TARGET_TOKENS = 150;
export const SHORT_TOKENS = 50;

const WS = "[ \\t\\n\\r\\f\\v\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]";
const BLANK_LINE = new RegExp("\\n[ \\t\\f\\v\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]*\\n");
const SPACES = new RegExp(`${WS}+`, "g");
const SENTENCE_END = /[.!?\u2026]+["'\u201d\u2019)\]]*(?= )|[\u3002\uff01\uff1f]+/g;

/** @typedef {(text: string) => Promise<number>} Counter */

/**
 * The text's paragraphs (separated by blank lines), each on one line, spaces collapsed.
 * @param {string} text @returns {string[]}
 */
export function paragraphs(text) {
  return text
    .replace(/\r\n?/g, "\n")
    .split(BLANK_LINE)
    .map((block) => stripSpaces(block.replace(SPACES, " ")))
    .filter((line) => line !== "");
}

/** @param {string} text */
function stripSpaces(text) {
  let start = 0;
  let end = text.length;
  while (start < end && text[start] === " ") start++;
  while (end > start && text[end - 1] === " ") end--;
  return text.slice(start, end);
}

/**
 * A one-line paragraph cut after each sentence end.
 * @param {string} paragraph @returns {string[]}
 */
export function sentences(paragraph) {
  const out = [];
  let start = 0;
  for (const match of paragraph.matchAll(SENTENCE_END)) {
    const end = /** @type {number} */ (match.index) + match[0].length;
    const piece = stripSpaces(paragraph.slice(start, end));
    if (piece) out.push(piece);
    start = end;
  }
  const rest = stripSpaces(paragraph.slice(start));
  if (rest) out.push(rest);
  return out;
}

/**
 * The largest end > start such that parts[start:end] joined fits in limit tokens
 * (parts[start] alone must fit). Galloping, then binary search: the ends tried grow 1, 2,
 * 4, ... past start until one does not fit, so each probe's text is at most twice the
 * passage found, not the rest of the document (a 2.6 MB log without sentence ends sent
 * 4.7 GB of text to the tokenizer, 103 s, by halving the whole rest). A count that grows
 * with the text gives the same end as a binary search over all of it.
 * sitebuild/search_sample.py's _longest_prefix is the same search, for the sample corpus.
 * @param {string[]} parts @param {number} start @param {string} joiner @param {Counter} count @param {number} limit
 */
async function longestPrefix(parts, start, joiner, count, limit) {
  let lo = start + 1;
  let hi = parts.length;
  for (let step = 1; lo < hi; step *= 2) {
    const probe = Math.min(lo + step, hi);
    if ((await count(parts.slice(start, probe).join(joiner))) <= limit) {
      lo = probe;
    } else {
      hi = probe - 1;
      break;
    }
  }
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if ((await count(parts.slice(start, mid).join(joiner))) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Cut a text into pieces of at most `limit` tokens: between words, or between the
 * characters (code points) of a word that alone is longer.
 * @param {string} text @param {Counter} count @param {number} limit @returns {Promise<string[]>}
 */
export async function hardSplit(text, count, limit) {
  const words = text.split(" ");
  const out = [];
  let i = 0;
  while (i < words.length) {
    if ((await count(words[i])) > limit) {
      const chars = Array.from(words[i]);
      let j = 0;
      while (j < chars.length) {
        const end = await longestPrefix(chars, j, "", count, limit);
        out.push(chars.slice(j, end).join(""));
        j = end;
      }
      i++;
      continue;
    }
    const end = await longestPrefix(words, i, " ", count, limit);
    out.push(words.slice(i, end).join(" "));
    i = end;
  }
  return out;
}

/**
 * A paragraph as [text, tokens] units: whole if it fits in maxTokens, else its sentences
 * packed up to `target`, a sentence of maxTokens or more cut by tokens.
 * @param {string} paragraph @param {number} n  its token count
 * @param {Counter} count @param {number} maxTokens @param {number} target
 * @returns {Promise<[string, number][]>}
 */
async function paragraphUnits(paragraph, n, count, maxTokens, target) {
  if (n < maxTokens) return [[paragraph, n]];
  /** @type {[string, number][]} */
  const out = [];
  /** @type {string | null} */
  let current = null;
  let currentN = 0;
  for (const sentence of sentences(paragraph)) {
    const m = await count(sentence);
    if (m >= maxTokens) {
      if (current !== null) out.push([current, currentN]);
      current = null;
      for (const piece of await hardSplit(sentence, count, target)) out.push([piece, await count(piece)]);
    } else if (current !== null && currentN + m - 2 <= target) {
      current = `${current} ${sentence}`;
      currentN += m - 2;
    } else {
      if (current !== null) out.push([current, currentN]);
      current = sentence;
      currentN = m;
    }
  }
  if (current !== null) out.push([current, currentN]);
  return out;
}

/**
 * A document's passages, in order (see the top of this file).
 * @param {string} text
 * @param {Counter} count  token ids of a text, [CLS] and [SEP] included
 * @param {number} maxTokens  the embedder's maxTokens
 * @param {{ target?: number, short?: number }} [options]
 * @returns {Promise<string[]>}
 */
export async function splitPassages(text, count, maxTokens, { target = TARGET_TOKENS, short = SHORT_TOKENS } = {}) {
  const paras = paragraphs(text);
  // Measure every paragraph at once: the requests travel together to the worker.
  const counts = await Promise.all(paras.map((p) => count(p)));
  /** @type {[string, number][]} */
  const passages = [];
  for (let p = 0; p < paras.length; p++) {
    for (const [unit, n] of await paragraphUnits(paras[p], counts[p], count, maxTokens, target)) {
      const last = passages[passages.length - 1];
      if (last && last[1] < short && last[1] + n - 2 <= target) {
        passages[passages.length - 1] = [`${last[0]}\n\n${unit}`, last[1] + n - 2];
      } else {
        passages.push([unit, n]);
      }
    }
  }
  const k = passages.length;
  if (k >= 2 && passages[k - 1][1] < short && passages[k - 2][1] + passages[k - 1][1] - 2 <= target) {
    const last = /** @type {[string, number]} */ (passages.pop());
    passages[k - 2] = [`${passages[k - 2][0]}\n\n${last[0]}`, passages[k - 2][1] + last[1] - 2];
  }
  return passages.map(([passage]) => passage);
}
