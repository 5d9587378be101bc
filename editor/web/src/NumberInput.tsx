// A number field that keeps what was typed: a browser's number input turns
// text it cannot read (1e309, "12abc") into "", which looked like a cleared
// field. This one keeps the text, stores it as typed (so a deploy is
// refused and says why) and marks it at once.
import { useState } from 'react'
import type { Field } from './types'

/** Why text is not a number, or '' when it is (empty is allowed: the default applies); ranges are the server's to check. */
export function numberProblem(text: string): string {
  const t = text.trim()
  if (t === '') return ''
  const n = Number(t)
  if (Number.isNaN(n)) return 'not a number'
  if (!Number.isFinite(n)) return 'too large: not a finite number'
  return ''
}

const asText = (v: unknown) => (v === undefined || v === null ? '' : String(v))

export function NumberInput({ f, v, set, id, invalid }: { f: Field; v: unknown; set: (v: unknown) => void; id: string; invalid: boolean }) {
  const [text, setText] = useState(() => asText(v))
  // The value changed elsewhere (undo, a reload): show it.
  const shown = asText(v) === text || (text.trim() !== '' && Number(text) === v) ? text : asText(v)
  const problem = numberProblem(shown)
  return (
    <>
      <input
        id={id}
        name={f.name}
        type="text"
        inputMode="decimal"
        value={shown}
        className={invalid || problem ? 'invalid' : ''}
        aria-invalid={invalid || !!problem}
        onChange={(e) => {
          const t = e.target.value
          setText(t)
          const n = Number(t.trim())
          set(t.trim() === '' ? '' : Number.isFinite(n) ? n : t)
        }}
      />
      {/* The server's problem for the field, once it has one, shows below instead (Tray.tsx). */}
      {problem && !invalid && (
        <div className="rn-field-error" role="alert" data-testid="number-problem">
          {problem}
        </div>
      )}
    </>
  )
}
