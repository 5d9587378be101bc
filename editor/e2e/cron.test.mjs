// The inject schedule picker's reading and writing of Node-RED's repeat and
// crontab (editor/web/src/CronPicker.tsx), as a table: which crontabs the
// picker shows as one of Node-RED's modes (and what it would write for
// them) and which it keeps as text. The module is bundled with esbuild
// (Vite's own), without the browser; subflows.test.mjs drives the form.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { repo } from './paths.mjs'

let m, dir
before(async () => {
  // Inside the repository, so that the bundle finds react in node_modules.
  mkdirSync(join(repo, 'editor', 'e2e', 'artifacts'), { recursive: true })
  dir = mkdtempSync(join(repo, 'editor', 'e2e', 'artifacts', 'cron-'))
  const out = join(dir, 'cron.mjs')
  await build({
    entryPoints: [join(repo, 'editor', 'web', 'src', 'CronPicker.tsx')],
    bundle: true, platform: 'node', format: 'esm', jsx: 'automatic', logLevel: 'warning', outfile: out,
    external: ['react', 'react/jsx-runtime'],
  })
  m = await import(pathToFileURL(out).href)
})
after(() => dir && rmSync(dir, { recursive: true, force: true }))

test('crontabs read back into the picker, and what it writes for them', () => {
  const cases = [
    // crontab, mode, what the picker writes, [start, end) hours, days, time
    ['00 12 * * 1,5', 'time', '00 12 * * 1,5', null, [1, 5], '12:00'],
    ['0 0 * * 0', 'time', '00 00 * * 0', null, [0], '00:00'],
    ['15 7 * * *', 'time', '15 07 * * *', null, [1, 2, 3, 4, 5, 6, 0], '07:15'],
    ['30 7 * * 1-5', 'time', '30 07 * * 1,2,3,4,5', null, [1, 2, 3, 4, 5], '07:30'],
    ['*/5 8-17 * * 1,2,3', 'interval-time', '*/5 8-17 * * 1,2,3', [8, 18], [1, 2, 3], null],
    ['0 8-17 * * *', 'interval-time', '0 8-17 * * *', [8, 18], [1, 2, 3, 4, 5, 6, 0], null],
    ['*/10 23 * * *', 'interval-time', '*/10 23 * * *', [23, 24], [1, 2, 3, 4, 5, 6, 0], null],
    ['*/15 17-23,0-10 * * 5,1', 'interval-time', '*/15 17-23,0-10 * * 1,5', [17, 11], [1, 5], null],
    ['*/5 8-17,20 * * *', 'custom', '*/5 8-17,20 * * *'],
    ['0 0 1 * *', 'custom', '0 0 1 * *'],
    ['*/7 * * * *', 'custom', '*/7 * * * *'],
    ['0 9 * * 1-3,7', 'custom', '0 9 * * 1-3,7'],
    ['0 0 12 * * *', 'custom', '0 0 12 * * *'],
  ]
  for (const [cron, mode, writes, hours, days, time] of cases) {
    const s = m.fromProps('', cron)
    assert.equal(s.mode, mode, cron)
    assert.deepEqual(m.toProps(s), { repeat: '', crontab: writes }, cron)
    if (hours) assert.deepEqual([s.start, s.end], hours, cron)
    if (days) assert.deepEqual(s.days, days, cron)
    if (time) assert.equal(s.time, time, cron)
  }
})

test('repeat reads back as an interval in its largest whole unit', () => {
  const cases = [['5', '5', 's'], ['0.5', '0.5', 's'], ['300', '5', 'm'], [7200, '2', 'h'], ['90', '90', 's']]
  for (const [repeat, count, units] of cases) {
    const s = m.fromProps(repeat, '')
    assert.deepEqual([s.mode, s.count, s.units], ['interval', count, units], String(repeat))
    assert.deepEqual(m.toProps(s), { repeat: String(Number(repeat)), crontab: '' })
  }
  // repeat wins over a crontab, as in Node-RED's runtime; nothing is none.
  assert.equal(m.fromProps('10', '00 12 * * *').mode, 'interval')
  assert.equal(m.fromProps('', '').mode, 'none')
  assert.equal(m.fromProps('0', '').mode, 'none')
  // No day ticked: no schedule (Node-RED writes an empty crontab).
  assert.deepEqual(m.toProps({ ...m.blank(), mode: 'time', days: [] }), { repeat: '', crontab: '' })
})
