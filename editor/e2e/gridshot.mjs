// A check aid, not a test: screenshots of the canvas's grid at 100 %, 50 % and 200 % after the same pans, and the
// viewport transform of each (the same for every build: the same wheel steps), for comparing one build's grid with
// another's pixel by pixel. Writes editor/e2e/artifacts/PREFIX-{100,50,200}.png and PREFIX.json.
//   npm run build && node editor/e2e/gridshot.mjs PREFIX
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { artifacts, launch, newPage, openEditor, sleep, startServer, zoomOf } from './helpers.mjs'

const prefix = process.argv[2] ?? 'grid'
const browser = await launch()
const server = await startServer()
const out = {}
try {
  const tab = 'g1'
  await server.deploy([
    { id: tab, type: 'tab', label: 'Grid', disabled: false, info: '' },
    { id: 'a', type: 'inject', z: tab, name: 'a', x: 200, y: 100, payload: '', payloadType: 'date', repeat: '', once: false, wires: [['b']] },
    { id: 'b', type: 'debug', z: tab, name: 'b', x: 420, y: 160, active: true, tosidebar: true, complete: 'false', wires: [] },
  ])
  const { page } = await newPage(browser)
  await openEditor(page, server.url)
  await sleep(500)
  const c = await page.locator('.rn-canvas').boundingBox()
  const cx = c.x + c.width / 2, cy = c.y + c.height / 2
  await page.mouse.move(cx, cy)
  const zoomTo = async (target) => {
    await page.keyboard.down('Control')
    for (let i = 0; i < 60; i++) {
      const z = await zoomOf(page)
      if (Math.abs(z - target) / target < 0.03) break
      await page.mouse.wheel(0, z < target ? -20 : 20)
      await sleep(30)
    }
    await page.keyboard.up('Control')
    await sleep(300)
  }
  for (const [name, z] of [['100', 1], ['50', 0.5], ['200', 2]]) {
    await zoomTo(z)
    // A few pans, to leave the offset somewhere not a multiple of the cell.
    for (let i = 0; i < 5; i++) {
      await page.mouse.wheel(17, 23)
      await sleep(30)
    }
    await sleep(400)
    out[name] = await page.locator('.react-flow__viewport').evaluate((el) => el.style.transform)
    await page.screenshot({ path: join(artifacts, `${prefix}-${name}.png`), clip: c })
  }
  writeFileSync(join(artifacts, `${prefix}.json`), JSON.stringify({ clip: c, transforms: out }, null, 1))
  console.log(JSON.stringify(out))
} finally {
  await browser.close()
  await server.stop()
}
