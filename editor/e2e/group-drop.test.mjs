// Dragging a node into a group and out of it, as in Node-RED: a node
// dropped with the pointer over a group joins it (its g, the group's
// nodes); dragged with Alt held it leaves the group.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newPage, nodeEl, openEditor, shot, startServer } from './helpers.mjs'

let browser, a
before(async () => {
  browser = await launch()
  a = await startServer()
})
after(async () => {
  await browser?.close()
  await a?.stop()
})

const tab = '8d8d8d8d8d8d0001'
const grp = '8d8d8d8d8d8d0002'
const dbg = (id, name, x, y, g) => ({
  id, type: 'debug', z: tab, ...(g ? { g } : {}), name, active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x, y, wires: [],
})

async function importText(page, text) {
  await page.keyboard.press('Control+i')
  const dlg = page.getByRole('dialog', { name: 'Import nodes' })
  await dlg.locator('#import-text').fill(text)
  await dlg.getByTestId('import-confirm').click()
  await dlg.waitFor({ state: 'detached' })
}

async function exported(page) {
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator('input[name="scope"][value="flow"]').check()
  const text = await dlg.getByTestId('export-text').inputValue()
  await page.keyboard.press('Escape')
  await dlg.waitFor({ state: 'detached' })
  return new Map(JSON.parse(text).map((o) => [o.id, o]))
}

/** Drags a node so that the pointer ends at the screen point of flow (x, y). */
async function dragTo(page, id, x, y, beforeDrop) {
  const b = await nodeEl(page, id).boundingBox()
  const [sx, sy] = [b.x + b.width / 2, b.y + b.height / 2]
  const [tx, ty] = await page.evaluate(([fx, fy]) => {
    const vp = document.querySelector('.react-flow__viewport')
    const m = /translate\(([-\d.]+)px, ?([-\d.]+)px\) scale\(([\d.]+)\)/.exec(vp.style.transform)
    const r = document.querySelector('.react-flow').getBoundingClientRect()
    return [r.left + Number(m[1]) + fx * Number(m[3]), r.top + Number(m[2]) + fy * Number(m[3])]
  }, [x, y])
  await page.mouse.move(sx, sy)
  await page.mouse.down()
  await page.mouse.move(sx + 3, sy + 3)
  for (let i = 1; i <= 6; i++) await page.mouse.move(sx + ((tx - sx) * i) / 6, sy + ((ty - sy) * i) / 6)
  await beforeDrop?.()
  await page.mouse.up()
  await page.waitForTimeout(100)
}

test('a node dropped on a group joins it; dragged out with Alt it leaves', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await importText(page, JSON.stringify([
    { id: tab, type: 'tab', label: 'Drop', disabled: false, info: '' },
    { id: grp, type: 'group', z: tab, name: 'G', style: { label: true }, nodes: ['8d8d8d8d8d8d0003', '8d8d8d8d8d8d0004'], x: 84, y: 59, w: 412, h: 82 },
    dbg('8d8d8d8d8d8d0003', 'a', 160, 100, grp),
    dbg('8d8d8d8d8d8d0004', 'b', 400, 100, grp),
    dbg('8d8d8d8d8d8d0005', 'c', 300, 320),
  ]))
  await page.keyboard.press('Escape')
  // c dropped with the pointer inside the group, between a and b.
  await dragTo(page, '8d8d8d8d8d8d0005', 280, 110, async () => {
    // While over it, the group is marked as the drop target.
    const hint = page.getByTestId('group-drop-hint')
    await hint.waitFor()
    assert.match(await hint.getAttribute('style'), /translate\(84px, 59px\); width: 412px; height: 82px/)
    await shot(page, 'group-drop-00-hover')
  })
  assert.equal(await page.getByTestId('group-drop-hint').count(), 0)
  let doc = await exported(page)
  assert.equal(doc.get('8d8d8d8d8d8d0005').g, grp)
  assert.deepEqual(doc.get(grp).nodes, ['8d8d8d8d8d8d0003', '8d8d8d8d8d8d0004', '8d8d8d8d8d8d0005'])
  // Node-RED writes g right after z.
  assert.deepEqual(Object.keys(doc.get('8d8d8d8d8d8d0005')).slice(0, 4), ['id', 'type', 'z', 'g'])
  await shot(page, 'group-drop-01-in')

  // Moving it inside the group keeps it there.
  await dragTo(page, '8d8d8d8d8d8d0005', 290, 120)
  doc = await exported(page)
  assert.equal(doc.get('8d8d8d8d8d8d0005').g, grp)

  // With Alt, out.
  await page.keyboard.down('Alt')
  await dragTo(page, '8d8d8d8d8d8d0005', 300, 340)
  await page.keyboard.up('Alt')
  doc = await exported(page)
  assert.equal('g' in doc.get('8d8d8d8d8d8d0005'), false)
  assert.deepEqual(doc.get(grp).nodes, ['8d8d8d8d8d8d0003', '8d8d8d8d8d8d0004'])
  await shot(page, 'group-drop-02-out')
  // Undo puts it back in the group.
  await page.keyboard.press('Control+z')
  doc = await exported(page)
  assert.equal(doc.get('8d8d8d8d8d8d0005').g, grp)
  assert.deepEqual(errors, [])
})
