// The debug sidebar at 1,000 messages a second: the page stays responsive,
// the list stays capped, every message is either shown in the count or
// reported as dropped by the server's throttle, and the newest message is
// shown (the throttle drops the earlier ones, as Node-RED keeps the last).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, test } from 'node:test'
import { budget, launch, newPage, openEditor, shot, sleep, startServer, until, within } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]

test('1,000 debug messages a second: responsive, capped, every message counted or reported dropped', async () => {
  await server.deploy([
    { id: 'ft', type: 'tab', label: 'Flood', disabled: false, info: '' },
    { id: 'fin', type: 'mqtt-in', z: 'ft', name: 'flood', topic: 'flood/#', qos: '0', datatype: 'utf8', broker: '', x: 150, y: 100, wires: [['fdbg']] },
    { id: 'fdbg', type: 'debug', z: 'ft', name: 'flood debug', active: true, tosidebar: true, console: false, tostatus: false, complete: 'false', x: 380, y: 100, wires: [] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="debug"]').click()

  const total = 5000
  const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.mqttPort), '-t', 'flood/a', '-l', '-q', '0'], { stdio: ['pipe', 'ignore', 'pipe'] })
  const exited = new Promise((res) => pub.once('exit', res))
  try {
    await page.evaluate(() => {
      window.__frames = []
      let last = performance.now()
      const tick = (t) => {
        window.__frames.push(t - last)
        last = t
        if (window.__rec) requestAnimationFrame(tick)
      }
      window.__rec = true
      requestAnimationFrame(tick)
    })
    // 100 messages every 100 ms for 5 s.
    const start = Date.now()
    let sent = 0
    let pauseLatency = -1
    for (let batch = 0; sent < total; batch++) {
      let lines = ''
      for (let i = 0; i < 100; i++) lines += `{"seq":${sent++},"v":${Math.random().toFixed(6)}}\n`
      pub.stdin.write(lines)
      if (batch === 25) {
        // Mid-flood: how long a click on pause takes to show.
        const t0 = Date.now()
        await page.getByRole('button', { name: 'pause' }).click()
        await page.getByRole('button', { name: 'resume' }).waitFor({ timeout: 2000 })
        pauseLatency = Date.now() - t0
        await page.getByRole('button', { name: 'resume' }).click()
      }
      const wait = start + (batch + 1) * 100 - Date.now()
      if (wait > 0) await sleep(wait)
    }
    pub.stdin.end()
    await within(10_000, 'mosquitto_pub to finish', () => exited)
    const elapsed = (Date.now() - start) / 1000
    const frames = await page.evaluate(() => {
      window.__rec = false
      return window.__frames.slice(1)
    })
    // Every message is shown in the count or reported dropped by the server's throttle.
    const counts = page.getByTestId('debug-counts')
    const read = async () => {
      const shown = Number((await page.getByTestId('debug-total').textContent()).match(/^(\d+)/)[1])
      const d = await page.getByTestId('debug-dropped').textContent().catch(() => '')
      const dropped = Number((d.match(/([\d,]+) earlier messages? dropped/) ?? [0, '0'])[1].replace(/,/g, ''))
      return { shown, dropped, text: d.trim() }
    }
    await until(10_000, `${total} messages accounted for`, async () => {
      const { shown, dropped } = await read()
      return shown + dropped === total
    })
    const { shown, dropped, text } = await read()
    const inDom = await page.getByTestId('debug-msg').count()
    console.log(`perf: debug flood ${total} msgs in ${elapsed.toFixed(1)} s (${Math.round(total / elapsed)}/s): ${shown} received, ${dropped} dropped by the server, ${inDom} in the list`)
    console.log(`perf: debug flood frames ${frames.length}, median ${median(frames).toFixed(1)} ms, p95 ${pct(frames, 95).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms; pause click to shown ${pauseLatency} ms`)
    await shot(page, '18-debug-flood')
    assert.ok(inDom <= 1000, 'the list is capped')
    assert.ok(shown > 0)
    assert.match(await counts.textContent(), /earlier messages dropped/)
    assert.equal(text, `· ${dropped.toLocaleString('en-US')} earlier messages dropped`)
    // The messages shown keep the order they were sent in.
    const seqs = (await page.getByTestId('debug-value').allTextContents()).map((t) => JSON.parse(t.slice(1, -1)).seq)
    assert.equal(seqs.length, inDom)
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `order at ${i}: ${seqs[i - 1]} then ${seqs[i]}`)
    assert.equal(seqs.at(-1), total - 1, 'the newest message is shown')
    budget(median(frames) < 34, `median frame ${median(frames)} ms during the flood (budget 34)`)
    assert.ok(pauseLatency >= 0, 'the pause took effect')
    budget(pauseLatency < 500, `pause took ${pauseLatency} ms (budget 500)`)
    assert.deepEqual(errors, [])
  } finally {
    if (pub.exitCode === null) process.kill(pub.pid, 'SIGTERM')
  }
})
