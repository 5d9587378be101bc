// A light code editor: a textarea over a highlighted copy of its text, with
// line numbers and an error line. Mustache tags, JSON tokens and Markdown
// headings are coloured; Tab indents. No dependency.
import { memo, useLayoutEffect, useMemo, useRef, type ReactNode } from 'react'

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

function highlight(text: string, lang?: string): ReactNode[] {
  const out: ReactNode[] = []
  let re: RegExp
  if (lang === 'json') re = /("(?:[^"\\\n]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g
  else if (lang === 'markdown') re = /^(#{1,6} .*)$|(`[^`\n]+`)|(\*\*[^*\n]+\*\*)/gm
  else re = /(\{\{\{[^}]*\}\}\}|\{\{[#^/!>&]?[^}]*\}\})/g
  let last = 0
  let k = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(text))) {
    if (m[0] === '') {
      re.lastIndex++
      continue
    }
    if (m.index > last) out.push(text.slice(last, m.index))
    let cls = 'tok'
    if (lang === 'json') cls = m[1] ? (m[2] ? 'tok-key' : 'tok-str') : m[3] ? 'tok-num' : 'tok-kw'
    else if (lang === 'markdown') cls = m[1] ? 'tok-head' : 'tok-code'
    else {
      const t = m[0]
      cls = /^\{\{[#^/]/.test(t) ? 'tok-section' : /^\{\{!/.test(t) ? 'tok-comment' : 'tok-var'
    }
    out.push(
      <span key={k++} className={cls}>
        {m[0]}
      </span>,
    )
    last = m.index + m[0].length
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

function CodeEditorView({ id, name, value, lang, onChange, errorLine, rows = 10, invalid }: Props) {
  const ta = useRef<HTMLTextAreaElement>(null)
  const pre = useRef<HTMLPreElement>(null)
  const gutter = useRef<HTMLDivElement>(null)
  const lines = useMemo(() => value.split('\n').length, [value])
  const hl = useMemo(() => highlight(value, lang), [value, lang])
  const sync = () => {
    if (!ta.current) return
    const { scrollTop, scrollLeft } = ta.current
    if (pre.current) {
      pre.current.scrollTop = scrollTop
      pre.current.scrollLeft = scrollLeft
    }
    if (gutter.current) gutter.current.scrollTop = scrollTop
  }
  useLayoutEffect(sync, [value])
  return (
    <div className={'rn-code' + (invalid ? ' invalid' : '')} style={{ height: rows * 18 + 12 }} data-lang={lang}>
      <div className="rn-code-gutter" ref={gutter} aria-hidden="true">
        {Array.from({ length: lines }, (_, i) => (
          <div key={i} className={errorLine === i + 1 ? 'err' : undefined}>
            {i + 1}
          </div>
        ))}
      </div>
      <div className="rn-code-main">
        {errorLine ? <div className="rn-code-errline" style={{ top: 6 + (errorLine - 1) * 18 - (ta.current?.scrollTop ?? 0) }} /> : null}
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
              })
            }
          }}
        />
      </div>
    </div>
  )
}

export const CodeEditor = memo(CodeEditorView)
