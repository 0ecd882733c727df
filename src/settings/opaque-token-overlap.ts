/**
 * Whether two `opaqueTokens` patterns could both claim one token. Deciding that exactly is
 * deciding whether two regular languages intersect, which JavaScript's regular expressions
 * (lookarounds, back-references) put out of reach; so this is a sampling check with a known
 * limit:
 *
 * - identical patterns overlap;
 * - each pattern yields sample tokens (every alternative; each repetition at its least, its most
 *   (at most 64 more) and in between; each character class by its first, middle and last
 *   printable ASCII member), and a sample of one that the other matches is an overlap.
 *
 * What it misses: two patterns whose shared tokens are none of either's samples (for instance
 * `^x[a-z]{8}$` and `^[a-z]{4}q[a-z]{4}$`: `xaaaaqaaa` is both's, and no sample of either), and
 * patterns it cannot sample (lookarounds, back-references, Unicode escapes) beyond the identical
 * case. Routing stays safe regardless: a token matched by two patterns goes to neither provider.
 */
export function opaqueTokensOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const left = compile(a);
  const right = compile(b);
  if (!left || !right) return false;
  return (
    (samplesOf(a) ?? []).some((token) => right.test(token)) ||
    (samplesOf(b) ?? []).some((token) => left.test(token))
  );
}

function compile(source: string): RegExp | null {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    return null;
  }
}

/** Printable ASCII: the alphabet samples are made of. */
const ALPHABET = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
const MAX_EXTRA_REPEATS = 64;
/** Which member of a character class a sample takes: first, middle, last. */
const PICKS = 3;

type Node =
  | { kind: 'chars'; members: string[] }
  | { kind: 'sequence'; items: Node[] }
  | { kind: 'choice'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number };

class Unsupported extends Error {}

/** Sample tokens of a pattern, each checked against it; null when the pattern cannot be sampled. */
export function samplesOf(source: string): string[] | null {
  const pattern = compile(source);
  if (!pattern) return null;
  let tree: Node;
  try {
    tree = new Parser(source).parse();
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
  const samples = new Set<string>();
  for (let extra = 0; extra <= MAX_EXTRA_REPEATS; extra++) {
    for (let pick = 0; pick < PICKS; pick++) {
      const sample = generate(tree, { extra, pick });
      if (pattern.test(sample)) samples.add(sample);
    }
  }
  return [...samples];
}

function generate(node: Node, variant: { extra: number; pick: number }): string {
  switch (node.kind) {
    case 'chars': {
      const last = node.members.length - 1;
      return node.members[[0, Math.floor(last / 2), last][variant.pick]];
    }
    case 'sequence':
      return node.items.map((item) => generate(item, variant)).join('');
    case 'choice':
      return generate(node.options[(variant.extra + variant.pick) % node.options.length], variant);
    case 'repeat': {
      const count = Math.min(node.max, node.min + variant.extra);
      return Array.from({ length: count }, () => generate(node.node, variant)).join('');
    }
  }
}

function membersOf(test: RegExp): string[] {
  const members = ALPHABET.filter((c) => test.test(c));
  if (members.length === 0) throw new Unsupported();
  return members;
}

/** A recursive-descent reading of the subset of regular expressions samples are made from. */
class Parser {
  private at = 0;

  constructor(private readonly source: string) {}

  parse(): Node {
    const node = this.choice();
    if (this.at < this.source.length) throw new Unsupported();
    return node;
  }

  private choice(): Node {
    const options = [this.sequence()];
    while (this.source[this.at] === '|') {
      this.at++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0] : { kind: 'choice', options };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.at < this.source.length && !'|)'.includes(this.source[this.at])) {
      const atom = this.atom();
      if (atom) items.push(this.quantified(atom));
    }
    return { kind: 'sequence', items };
  }

  private atom(): Node | null {
    const c = this.source[this.at];
    if (c === '^' || c === '$') {
      this.at++;
      return null;
    }
    if (c === '(') return this.group();
    if (c === '[') return this.charClass();
    if (c === '.') {
      this.at++;
      return { kind: 'chars', members: membersOf(/./) };
    }
    if (c === '\\') return this.escape();
    if ('*+?{'.includes(c)) throw new Unsupported();
    this.at++;
    return { kind: 'chars', members: [c] };
  }

  private group(): Node {
    this.at++;
    if (this.source[this.at] === '?') {
      const rest = this.source.slice(this.at);
      if (rest.startsWith('?:')) this.at += 2;
      else if (/^\?<[A-Za-z_$][\w$]*>/.test(rest)) this.at = this.source.indexOf('>', this.at) + 1;
      else throw new Unsupported(); // lookarounds: zero-width, not sampled
    }
    const inner = this.choice();
    if (this.source[this.at] !== ')') throw new Unsupported();
    this.at++;
    return inner;
  }

  private charClass(): Node {
    let end = this.at + 1;
    if (this.source[end] === '^') end++;
    if (this.source[end] === ']') end++;
    while (end < this.source.length && this.source[end] !== ']') {
      end += this.source[end] === '\\' ? 2 : 1;
    }
    if (end >= this.source.length) throw new Unsupported();
    const text = this.source.slice(this.at, end + 1);
    this.at = end + 1;
    return { kind: 'chars', members: membersOf(new RegExp(`^${text}$`)) };
  }

  private escape(): Node {
    const next = this.source[this.at + 1];
    if (next === undefined || /[1-9kbBcux0pP]/.test(next)) throw new Unsupported();
    this.at += 2;
    return { kind: 'chars', members: membersOf(new RegExp(`^\\${next}$`)) };
  }

  private quantified(node: Node): Node {
    const c = this.source[this.at];
    let min: number;
    let max: number;
    if (c === '*' || c === '+' || c === '?') {
      this.at++;
      [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
    } else if (c === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.at));
      if (!match) throw new Unsupported();
      this.at += match[0].length;
      min = Number(match[1]);
      max = match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]);
    } else return node;
    if (this.source[this.at] === '?') this.at++; // lazy: the same tokens
    return { kind: 'repeat', node, min, max };
  }
}
