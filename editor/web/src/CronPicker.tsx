// Node-RED's inject schedule: repeat none, every interval (repeat, in
// seconds), every N minutes between two hours on some days, or at a time
// on some days (both a crontab such as "*/5 8-17 * * 1,2,3" or
// "00 12 * * 1,5"). A crontab the picker cannot express is kept and edited
// as text. The widget of fields of kind "schedule" (widgets.ts): it writes
// the node's repeat and crontab.
import { useEffect, useRef, useState } from 'react'
import type { WidgetProps } from './widgets'

export type Mode = 'none' | 'interval' | 'interval-time' | 'time' | 'custom'

export interface Schedule {
  mode: Mode
  /** interval: the count and its unit. */
  count: string
  units: 's' | 'm' | 'h'
  /** interval-time: minutes between messages ("0" is 60, once an hour), and the hours. */
  minutes: string
  start: number
  /** The hour the range ends, 1 to 24 (24 is midnight). */
  end: number
  /** time: HH:MM. */
  time: string
  /** Days of the week checked, 0 (Sunday) to 6. */
  days: number[]
  /** custom: the crontab as text. */
  cron: string
}

/** Node-RED's choices of minutes for "interval between times" ("0" meaning 60). */
export const minuteChoices = ['1', '2', '3', '4', '5', '6', '10', '12', '15', '20', '30', '0']
/** Node-RED's order of the day checkboxes: Monday first, Sunday last. */
export const dayOrder = [1, 2, 3, 4, 5, 6, 0]
const dayNames: Record<number, string> = { 1: 'Monday', 2: 'Tuesday', 3: 'Wednesday', 4: 'Thursday', 5: 'Friday', 6: 'Saturday', 0: 'Sunday' }

const allDays = () => [...dayOrder]
export const blank = (): Schedule => ({ mode: 'none', count: '1', units: 's', minutes: '1', start: 0, end: 24, time: '12:00', days: allDays(), cron: '' })

const pad2 = (n: number) => String(n).padStart(2, '0')

function daysText(days: number[]): string {
  if (days.length === 7) return '*'
  return dayOrder.filter((d) => days.includes(d)).join(',')
}

/** Node-RED's hour field for minutes between start and end (end exclusive, 24 is midnight; a wrap past midnight is two ranges). */
function hourRange(start: number, end: number): string {
  if (end === 0 || end === 24) return start === 23 ? '23' : `${start}-23`
  if (start + 1 < end) return `${start}-${end - 1}`
  if (start + 1 === end) return String(start)
  const a = start === 23 ? '23' : `${start}-23`
  const b = end === 1 ? '0' : `0-${end - 1}`
  return `${a},${b}`
}

/** The node's repeat and crontab for a schedule, as Node-RED's inject form saves them. */
export function toProps(s: Schedule): { repeat: string; crontab: string } {
  switch (s.mode) {
    case 'interval': {
      const c = Number(s.count)
      if (!(c > 0)) return { repeat: '', crontab: '' }
      const secs = s.units === 'h' ? c * 3600 : s.units === 'm' ? c * 60 : c
      return { repeat: String(secs), crontab: '' }
    }
    case 'interval-time': {
      if (!s.days.length) return { repeat: '', crontab: '' }
      const min = s.minutes === '0' ? '0' : `*/${s.minutes}`
      return { repeat: '', crontab: `${min} ${hourRange(s.start, s.end)} * * ${daysText(s.days)}` }
    }
    case 'time': {
      const m = /^(\d{1,2}):(\d{1,2})$/.exec(s.time)
      if (!s.days.length || !m) return { repeat: '', crontab: '' }
      return { repeat: '', crontab: `${pad2(Number(m[2]) % 60)} ${pad2(Number(m[1]) % 24)} * * ${daysText(s.days)}` }
    }
    case 'custom':
      return { repeat: '', crontab: s.cron.trim() }
    default:
      return { repeat: '', crontab: '' }
  }
}

function parseDays(f: string): number[] | null {
  if (f === '*') return allDays()
  // Lists and ranges of 0 (Sunday) to 6: "1,5", "1-5".
  const set = fieldSet(f)
  if (!set || [...set].some((d) => d > 6)) return null
  return dayOrder.filter((d) => set.has(d))
}

/** The hours of an hour field Node-RED's form writes: start and end (exclusive), or null. */
function parseHours(f: string): { start: number; end: number } | null {
  const h = (x: string) => (/^\d{1,2}$/.test(x) && Number(x) < 24 ? Number(x) : NaN)
  const parts = f.split(',')
  if (parts.length === 1) {
    const r = parts[0].split('-')
    if (r.length === 1) return Number.isNaN(h(r[0])) ? null : { start: h(r[0]), end: h(r[0]) + 1 }
    if (r.length === 2 && !Number.isNaN(h(r[0])) && !Number.isNaN(h(r[1]))) return { start: h(r[0]), end: h(r[1]) + 1 }
    return null
  }
  if (parts.length !== 2) return null
  const a = parts[0].split('-')
  const b = parts[1].split('-')
  const start = h(a[0])
  const end = h(b[b.length - 1]) + 1
  return Number.isNaN(start) || Number.isNaN(end) ? null : { start, end }
}

/**
 * The schedule of a node's repeat and crontab, as Node-RED's form reads
 * them back; a crontab the picker would not write back the same is
 * "custom" (edited as text).
 */
export function fromProps(repeat: unknown, crontab: unknown): Schedule {
  const s = blank()
  const r = repeat === undefined || repeat === null ? '' : String(repeat).trim()
  const c = typeof crontab === 'string' ? crontab.trim() : ''
  if (r !== '' && Number(r) !== 0) {
    const n = Number(r)
    if (!Number.isFinite(n) || n < 0) return { ...s, mode: 'interval', count: r }
    if (n % 3600 === 0) return { ...s, mode: 'interval', count: String(n / 3600), units: 'h' }
    if (n % 60 === 0) return { ...s, mode: 'interval', count: String(n / 60), units: 'm' }
    return { ...s, mode: 'interval', count: r, units: 's' }
  }
  if (!c) return s
  const custom = { ...s, mode: 'custom' as const, cron: c }
  const f = c.split(/\s+/)
  if (f.length !== 5 || f[2] !== '*' || f[3] !== '*') return custom
  const days = parseDays(f[4])
  if (!days) return custom
  let out: Schedule | null = null
  if (/^\d{1,2}$/.test(f[0]) && /^\d{1,2}$/.test(f[1]) && Number(f[0]) < 60 && Number(f[1]) < 24) {
    out = { ...s, mode: 'time', time: `${pad2(Number(f[1]))}:${pad2(Number(f[0]))}`, days }
  } else {
    const m = /^(?:\*\/(\d+)|(0))$/.exec(f[0])
    const hours = parseHours(f[1])
    const minutes = m ? (m[2] ?? m[1]) : ''
    if (m && hours && minuteChoices.includes(minutes)) out = { ...s, mode: 'interval-time', minutes, start: hours.start, end: hours.end, days }
  }
  // Only what the form would write back with the same meaning is the
  // form's (it may spell it differently: "0 0" as "00 00", days in order);
  // the crontab itself changes only when the user changes the schedule.
  if (!out || !sameSchedule(f, toProps(out).crontab.split(' '))) return custom
  return out
}

/** The values a crontab field of numbers, ranges and lists names, or null for other forms. */
function fieldSet(f: string): Set<number> | null {
  const out = new Set<number>()
  for (const part of f.split(',')) {
    const m = /^(\d{1,2})(?:-(\d{1,2}))?$/.exec(part)
    if (!m) return null
    const a = Number(m[1])
    const b = m[2] === undefined ? a : Number(m[2])
    if (b < a) return null
    for (let i = a; i <= b; i++) out.add(i)
  }
  return out
}

function sameSchedule(a: string[], b: string[]): boolean {
  const same = (x: string, y: string) => {
    if (x === y) return true
    const sx = x === '*' ? fieldSet('0-6') : fieldSet(x)
    const sy = y === '*' ? fieldSet('0-6') : fieldSet(y)
    return !!sx && !!sy && sx.size === sy.size && [...sx].every((v) => sy.has(v))
  }
  return a.length === 5 && b.length === 5 && same(a[0], b[0]) && same(a[1], b[1]) && a[2] === b[2] && a[3] === b[3] && same(a[4], b[4])
}

const hourLabel = (h: number) => (h === 24 ? '00:00' : `${pad2(h)}:00`)

function Days({ days, set, id }: { days: number[]; set: (d: number[]) => void; id: string }) {
  return (
    <div className="rn-cron-days" role="group" aria-label="on days">
      {dayOrder.map((d) => (
        <label key={d}>
          <input
            type="checkbox"
            id={`${id}-day-${d}`}
            value={d}
            checked={days.includes(d)}
            onChange={(e) => set(e.target.checked ? [...days, d] : days.filter((x) => x !== d))}
          />
          {dayNames[d]}
        </label>
      ))}
    </div>
  )
}

export function CronPicker({ obj, set, id, invalid }: WidgetProps) {
  const [s, setS] = useState<Schedule>(() => fromProps(obj.repeat, obj.crontab))
  // A draft replaced from outside (another node, undo) is read again.
  const mine = useRef<{ repeat: unknown; crontab: unknown } | null>(null)
  useEffect(() => {
    if (mine.current && mine.current.repeat === obj.repeat && mine.current.crontab === obj.crontab) return
    setS(fromProps(obj.repeat, obj.crontab))
  }, [obj.repeat, obj.crontab])
  const update = (p: Partial<Schedule>) => {
    const n = { ...s, ...p }
    setS(n)
    const props = toProps(n)
    mine.current = props
    set(props)
  }
  const noDays = (s.mode === 'time' || s.mode === 'interval-time') && !s.days.length
  return (
    <div className={'rn-cron' + (invalid ? ' invalid' : '')} data-testid="cron-picker" data-mode={s.mode}>
      <select id={id} value={s.mode} onChange={(e) => update({ mode: e.target.value as Mode, cron: s.mode === 'custom' ? s.cron : toProps(s).crontab })} aria-label="Repeat">
        <option value="none">none</option>
        <option value="interval">interval</option>
        <option value="interval-time">interval between times</option>
        <option value="time">at a specific time</option>
        <option value="custom">crontab (text)</option>
      </select>
      {s.mode === 'interval' && (
        <div className="rn-cron-row">
          every
          <input
            type="number"
            min={1}
            className="rn-cron-count"
            aria-label="every"
            id={`${id}-count`}
            value={s.count}
            onChange={(e) => update({ count: e.target.value })}
          />
          <select aria-label="units" id={`${id}-units`} value={s.units} onChange={(e) => update({ units: e.target.value as Schedule['units'] })}>
            <option value="s">seconds</option>
            <option value="m">minutes</option>
            <option value="h">hours</option>
          </select>
        </div>
      )}
      {s.mode === 'interval-time' && (
        <>
          <div className="rn-cron-row">
            every
            <select aria-label="minutes" id={`${id}-minutes`} value={s.minutes} onChange={(e) => update({ minutes: e.target.value })}>
              {minuteChoices.map((m) => (
                <option key={m} value={m}>{m === '0' ? '60' : m}</option>
              ))}
            </select>
            minutes
          </div>
          <div className="rn-cron-row">
            between
            <select
              aria-label="between"
              id={`${id}-start`}
              value={s.start}
              onChange={(e) => {
                const start = Number(e.target.value)
                update({ start, end: s.end <= start && s.end !== 0 ? start + 1 : s.end })
              }}
            >
              {Array.from({ length: 24 }, (_, h) => (
                <option key={h} value={h}>{hourLabel(h)}</option>
              ))}
            </select>
            and
            <select aria-label="and" id={`${id}-end`} value={s.end} onChange={(e) => update({ end: Number(e.target.value) })}>
              {Array.from({ length: 24 }, (_, i) => i + 1)
                .filter((h) => h > s.start || h === s.end)
                .map((h) => (
                  <option key={h} value={h}>{hourLabel(h)}</option>
                ))}
            </select>
          </div>
          <Days days={s.days} set={(days) => update({ days })} id={id} />
        </>
      )}
      {s.mode === 'time' && (
        <>
          <div className="rn-cron-row">
            at
            <input type="time" aria-label="at" id={`${id}-time`} value={s.time} onChange={(e) => update({ time: e.target.value })} />
          </div>
          <Days days={s.days} set={(days) => update({ days })} id={id} />
        </>
      )}
      {s.mode === 'custom' && (
        <div className="rn-cron-row">
          <input
            type="text"
            className="mono rn-cron-text"
            aria-label="crontab"
            id={`${id}-crontab`}
            placeholder="*/5 8-17 * * 1-5"
            value={s.cron}
            onChange={(e) => update({ cron: e.target.value })}
          />
        </div>
      )}
      {noDays && <div className="rn-help">No day chosen: the node will not repeat.</div>}
      <div className="rn-help mono" data-testid="cron-result">
        {s.mode === 'interval' ? `repeat: ${toProps(s).repeat || '—'} s` : s.mode !== 'none' ? `crontab: ${toProps(s).crontab || '—'}` : ''}
      </div>
    </div>
  )
}
