// A profiling aid, not a test: opens a flow of N nodes (default 2,000) and,
// for each of the perf test's actions, prints where the renderer's time went
// (CDP Performance.getMetrics: script, style, layout, the rest) and the
// functions with the most self time (CDP Profiler). Build the editor
// unminified for readable names: npx vite build --minify false.
//   node editor/e2e/profile.mjs [N]
import { launch, newPage, nodeBox, sleep, startServer } from './helpers.mjs'

const n = Number(process.argv[2] ?? 2000)
const kinds = ['inject', 'json', 'filter-on-change', 'template', 'json', 'template', 'filter-on-change', 'template', 'json', 'debug']
function bigFlow(n) {
  const tab = 'big' + n
  const objs = [{ id: tab, type: 'tab', label: `Big ${n}`, disabled: false, info: '' }]
  const chains = n / 10
  const perColumn = n <= 500 ? chains : 70
  for (let r = 0; r < chains; r++) {
    const x0 = 100 + Math.floor(r / perColumn) * 2200, y0 = 60 + (r % perColumn) * 60
    for (let c = 0; c < 10; c++) {
      const type = kinds[c]
      objs.push({ id: `n${r}_${c}`, type, z: tab, name: `${type} ${r}.${c}`, x: x0 + c * 200, y: y0, wires: c < 9 ? [[`n${r}_${c + 1}`]] : [] })
    }
  }
  return objs
}

const browser = await launch()
const server = await startServer()
try {
  await server.deploy(bigFlow(n))
  const { page } = await newPage(browser)
  // A loaded machine takes longer than openEditor's 15 s to draw 2,000 nodes.
  await page.goto(server.url, { timeout: 60_000 })
  await page.waitForFunction(() => window.__runnelReady > 0, null, { timeout: 120_000 })
  const t = await page.evaluate(() => window.__runnelReady)
  console.log(`load ${t.toFixed(0)} ms`)
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Performance.enable')
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
  const canvas = await page.locator('.rn-canvas').boundingBox()
  const cx = canvas.x + canvas.width / 2, cy = canvas.y + canvas.height / 2
  await page.mouse.move(cx, cy)

  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]))
  async function profile(name, fn) {
    if (process.env.TRACE) return trace(name, fn)
    const m0 = await metrics()
    await cdp.send('Profiler.start')
    const t0 = Date.now()
    await fn()
    const wall = Date.now() - t0
    const { profile } = await cdp.send('Profiler.stop')
    const m1 = await metrics()
    const d = (k) => ((m1[k] - m0[k]) * 1000).toFixed(0)
    console.log(`\n== ${name}: wall ${wall} ms; task ${d('TaskDuration')} ms, script ${d('ScriptDuration')}, style ${d('RecalcStyleDuration')} (${m1.RecalcStyleCount - m0.RecalcStyleCount}x), layout ${d('LayoutDuration')} (${m1.LayoutCount - m0.LayoutCount}x), nodes in DOM ${m1.Nodes}`)
    // Self time per function.
    const self = new Map()
    const byId = new Map(profile.nodes.map((x) => [x.id, x]))
    const dt = profile.timeDeltas
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i])
      const cf = node.callFrame
      const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').pop()}:${cf.lineNumber + 1}`
      self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000)
    }
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 22)
    for (const [k, v] of top) console.log(`  ${v.toFixed(1).padStart(8)} ms  ${k}`)
  }
  // With TRACE=1: a Chromium trace instead, summed by event name (main thread of the page's renderer, nested events counted in each).
  async function trace(name, fn) {
    await browser.startTracing(page, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] })
    const t0 = Date.now()
    await fn()
    const wall = Date.now() - t0
    const events = JSON.parse((await browser.stopTracing()).toString()).traceEvents
    const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
    const sums = new Map()
    for (const e of events) {
      if (e.ph !== 'X' || !e.dur || (main && (e.pid !== main.pid || e.tid !== main.tid))) continue
      sums.set(e.name, (sums.get(e.name) ?? 0) + e.dur / 1000)
    }
    console.log(`\n== ${name} (trace): wall ${wall} ms`)
    for (const [k, v] of [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${v.toFixed(1).padStart(8)} ms  ${k}`)
  }
  const dragBy = async (x, y, dx, dy, steps = 40) => {
    await page.mouse.move(x, y)
    await page.mouse.down()
    for (let i = 1; i <= steps; i++) {
      await page.mouse.move(x + (dx * i) / steps, y + (dy * i) / steps)
      await sleep(16)
    }
    await page.mouse.up()
  }
  const fitCount = await page.locator('.react-flow__node').count()
  console.log(`nodes rendered at fit: ${fitCount}`)
  await profile('pan at fit', async () => {
    for (let i = 0; i < 40; i++) {
      await page.mouse.wheel(0, i < 20 ? 25 : -25)
      await sleep(16)
    }
  })
  // ONLY_PAN=1: the first action only.
  if (!process.env.ONLY_PAN) {
  // Zoomed out, the nodes are drawn on a canvas (CanvasLOD.tsx): their boxes come from the viewport transform.
  const a = await nodeBox(page, 'n0_0')
  const b = await nodeBox(page, 'n9_9')
  await dragBy(a.x - 8, a.y - 8, b.x + b.width + 2 - (a.x - 8), b.y + b.height + 2 - (a.y - 8), 10)
  console.log('selected', await page.locator('.react-flow__node.selected').count())
  const g = await nodeBox(page, 'n5_5')
  await profile('drag selection', () => dragBy(g.x + g.width / 2, g.y + g.height / 2, 120, 80))
  await page.keyboard.press('Escape')
  await profile('zoom', async () => {
    await page.keyboard.down('Control')
    for (let i = 0; i < 30; i++) {
      await page.mouse.wheel(0, i < 20 ? -40 : 40)
      await sleep(16)
    }
    await page.keyboard.up('Control')
  })
  console.log('zoom now', (await nodeBox(page, 'n0_0').catch(() => ({ z: '?' }))).z)
  await profile('pan zoomed', async () => {
    for (let i = 0; i < 40; i++) {
      await page.mouse.wheel(i % 20 < 10 ? 30 : -30, i < 20 ? 40 : -40)
      await sleep(16)
    }
  })
  const one = await page.evaluate(({ cx, cy }) => {
    let best, d = Infinity
    for (const el of document.querySelectorAll('.react-flow__node')) {
      const r = el.getBoundingClientRect()
      const dd = Math.hypot(r.x + r.width / 2 - cx, r.y + r.height / 2 - cy)
      if (dd < d) (d = dd), (best = { x: r.x + r.width / 2, y: r.y + r.height / 2 })
    }
    return best
  }, { cx, cy })
  await profile('drag one node', () => dragBy(one.x, one.y, 150, 100))
  }
} finally {
  await browser.close()
  await server.stop()
}
