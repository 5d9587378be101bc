// A light code editor: a textarea over a highlighted copy of its text, with
// line numbers, an error line and, in JavaScript and JSON, the bracket pair
// at the cursor marked. JavaScript (keywords, strings, template literals,
// comments, numbers, regular expression literals, Node-RED's msg, node,
// context...), Mustache tags, JSON tokens and Markdown headings are
// coloured; Tab indents. No dependency.
import { memo, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react'

interface Props {
  id?: string
  name?: string
  value: string
  lang?: string
  onChange: (v: string) => void
  /** 1-based line to mark as wrong. */
  errorLine?: number
  rows?: number
  invalid?: boolean
}

/** A coloured stretch of the text: [start, end) and its class; "br" is a bracket. */
interface Tok {
  s: number
  e: number
  cls: string
}

const jsKeywords = new Set(
  ('async await break case catch class const continue debugger default delete do else export extends finally for ' +
    'function if import in instanceof let new of return static super switch this throw try typeof var void while with yield')
    .split(' '),
)
const jsLiterals = new Set(['true', 'false', 'null', 'undefined', 'NaN', 'Infinity'])
/** What a function node's code is given (Node-RED's sandbox). */
const jsApi = new Set(['msg', 'node', 'context', 'flow', 'global', 'env', 'RED', 'util', 'Buffer', 'console'])

// Comments, strings, template literals, numbers, words, regular expression
// literals, brackets, any other character.
const jsRe =
  /(\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?)|(`(?:[^`\\]|\\[\s\S])*`?)|(0[xX][\da-fA-F_]+n?|0[bBoO][\d_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?n?)|([A-Za-z_$\u00a0-\uffff][\w$\u00a0-\uffff]*)|(\/(?![*/])(?:[^/\\\n[]|\\.|\[(?:[^\]\\\n]|\\.)*\])+\/[dgimsuyv]*)|([()[\]{}])|(\S)/g

function jsTokens(text: string): Tok[] {
  const out: Tok[] = []
  // Whether a "/" here starts a regular expression rather than dividing:
  // not after a value (a name, a number, a string, a closing bracket).
  let regexOk = true
  jsRe.lastIndex = 0
  let m: RegExpExecArray | null
  while ((m = jsRe.exec(text))) {
    const s = m.index
    const e = s + m[0].length
    if (m[1]) out.push({ s, e, cls: 'tok-comment' })
    else if (m[2] || m[3]) {
      out.push({ s, e, cls: 'tok-str' })
      regexOk = false
    } else if (m[4]) {
      out.push({ s, e, cls: 'tok-num' })
      regexOk = false
    } else if (m[5]) {
      const w = m[5]
      if (jsKeywords.has(w)) {
        out.push({ s, e, cls: 'tok-kw' })
        regexOk = w !== 'this' && w !== 'super'
        continue
      }
      if (jsLiterals.has(w)) out.push({ s, e, cls: 'tok-lit' })
      else if (jsApi.has(w) && text[s - 1] !== '.') out.push({ s, e, cls: 'tok-var' })
      regexOk = false
    } else if (m[6]) {
      if (!regexOk) {
        // Division: the "/" alone, and go on after it.
        jsRe.lastIndex = s + 1
        regexOk = true
        continue
      }
      out.push({ s, e, cls: 'tok-re' })
      regexOk = false
    } else if (m[7]) {
      out.push({ s, e, cls: 'br' })
      regexOk = !')]}'.includes(m[7])
    } else regexOk = true // an operator or punctuation
  }
  return out
}

function regexTokens(text: string, lang?: string): Tok[] {
  const out: Tok[] = []
  let re: RegExp
  if (lang === 'json') re = /("(?:[^"\\\n]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b|([[\]{}])/g
  else if (lang === 'markdown') re = /^(#{1,6} .*)$|(`[^`\n]+`)|(\*\*[^*\n]+\*\*)/gm
  else re = /(\{\{\{[^}]*\}\}\}|\{\{[#^/!>&]?[^}]*\}\})/g
  let m: RegExpExecArray | null
  while ((m = re.exec(text))) {
    if (m[0] === '') {
      re.lastIndex++
      continue
    }
    let cls = 'tok'
    if (lang === 'json') cls = m[1] ? (m[2] ? 'tok-key' : 'tok-str') : m[3] ? 'tok-num' : m[4] ? 'tok-kw' : 'br'
    else if (lang === 'markdown') cls = m[1] ? 'tok-head' : 'tok-code'
    else {
      const t = m[0]
      cls = /^\{\{[#^/]/.test(t) ? 'tok-section' : /^\{\{!/.test(t) ? 'tok-comment' : 'tok-var'
    }
    out.push({ s: m.index, e: m.index + m[0].length, cls })
  }
  return out
}

export function tokens(text: string, lang?: string): Tok[] {
  return lang === 'javascript' || lang === 'js' ? jsTokens(text) : regexTokens(text, lang)
}

/** Pairs the brackets among toks: the partner of each bracket's start, or -1 when it has none. */
function pairBrackets(text: string, toks: Tok[]): Map<number, number> {
  const pair = new Map<number, number>()
  const stack: number[] = []
  const open: Record<string, string> = { ')': '(', ']': '[', '}': '{' }
  for (const t of toks) {
    if (t.cls !== 'br') continue
    const c = text[t.s]
    if (!open[c]) {
      stack.push(t.s)
      pair.set(t.s, -1)
      continue
    }
    const top = stack[stack.length - 1]
    if (top !== undefined && text[top] === open[c]) {
      stack.pop()
      pair.set(top, t.s)
      pair.set(t.s, top)
    } else pair.set(t.s, -1)
  }
  return pair
}

/** The bracket at the cursor (just before it, else just after it) and its partner. */
function bracketsAt(pair: Map<number, number>, cursor: number | null): { at: number; to: number } | null {
  if (cursor === null) return null
  for (const at of [cursor - 1, cursor]) {
    const to = pair.get(at)
    if (to !== undefined) return { at, to }
  }
  return null
}

function render(text: string, toks: Tok[], match: { at: number; to: number } | null): ReactNode[] {
  const out: ReactNode[] = []
  let last = 0
  for (const t of toks) {
    let cls = t.cls
    if (cls === 'br') {
      if (!match || (t.s !== match.at && t.s !== match.to)) continue
      cls = match.to < 0 ? 'tok-nomatch' : 'tok-match'
    }
    if (t.s > last) out.push(text.slice(last, t.s))
    out.push(
      <span key={t.s} className={cls}>
        {text.slice(t.s, t.e)}
      </span>,
    )
    last = t.e
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

function CodeEditorView({ id, name, value, lang, onChange, errorLine, rows = 10, invalid }: Props) {
  const ta = useRef<HTMLTextAreaElement>(null)
  const pre = useRef<HTMLPreElement>(null)
  const gutter = useRef<HTMLDivElement>(null)
  const [cursor, setCursor] = useState<number | null>(null)
  const [scrollTop, setScrollTop] = useState(0)
  const lines = useMemo(() => value.split('\n').length, [value])
  const toks = useMemo(() => tokens(value, lang), [value, lang])
  const brackets = lang === 'javascript' || lang === 'js' || lang === 'json'
  const pair = useMemo(() => (brackets ? pairBrackets(value, toks) : new Map<number, number>()), [brackets, value, toks])
  const match = bracketsAt(pair, cursor)
  const hl = useMemo(() => render(value, toks, match), [value, toks, match?.at, match?.to])
  const sync = () => {
    if (!ta.current) return
    const { scrollTop, scrollLeft } = ta.current
    if (pre.current) {
      pre.current.scrollTop = scrollTop
      pre.current.scrollLeft = scrollLeft
    }
    if (gutter.current) gutter.current.scrollTop = scrollTop
    setScrollTop(scrollTop)
  }
  useLayoutEffect(sync, [value])
  const track = () => {
    const t = ta.current
    if (t && document.activeElement === t && t.selectionStart === t.selectionEnd) setCursor(t.selectionStart)
    else setCursor(null)
  }
  return (
    <div
      className={'rn-code' + (invalid ? ' invalid' : '')}
      style={{ height: rows * 18 + 12 }}
      data-lang={lang}
      data-error-line={errorLine || undefined}
    >
      <div className="rn-code-gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lines }, (_, i) => (
          <div key={i} className={errorLine === i + 1 ? 'err' : undefined}>
            {i + 1}
          </div>
        ))}
      </div>
      <div className="rn-code-main">
        {errorLine ? <div className="rn-code-errline" style={{ top: 6 + (errorLine - 1) * 18 - scrollTop }} /> : null}
        <pre ref={pre} aria-hidden="true">
          {hl}
          {'\n'}
        </pre>
        <textarea
          id={id}
          name={name}
          ref={ta}
          value={value}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          wrap="off"
          onScroll={sync}
          onSelect={track}
          onBlur={() => setCursor(null)}
          onChange={(e) => onChange(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Tab' && !e.ctrlKey && !e.altKey && !e.metaKey) {
              e.preventDefault()
              const t = e.currentTarget
              const s = t.selectionStart, en = t.selectionEnd
              const v = t.value.slice(0, s) + '  ' + t.value.slice(en)
              onChange(v)
              requestAnimationFrame(() => {
                t.selectionStart = t.selectionEnd = s + 2
                track()
              })
            }
          }}
        />
      </div>
    </div>
  )
}

export const CodeEditor = memo(CodeEditorView)
