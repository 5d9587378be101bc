// Editor login: a server with editor users asks for a login; a wrong password
// shows an error; a full user deploys and logs out; a read-only user sees
// Deploy disabled and the server refuses its changes.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { dragFromPalette, launch, newPage, openEditor, shot, startServer, until } from './helpers.mjs'

// bcrypt (cost 10) of "admin-pass" and "viewer-pass".
const config = `[editor]
session_ttl = "1h"

[[editor.users]]
name = "admin"
password_hash = '$2a$10$WXpfH4VzntsSCx98wMs.G.MCzBv4S96KQc9fxtlyiyPmyORIEyoq6'
role = "full"

[[editor.users]]
name = "viewer"
password_hash = '$2a$10$sSvj11ycVUSTjxe86edMtOiB9YcRqAh531G45kwkHBDeYe.oLjcbS'
role = "read"
`

let browser, server, dir
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'runnel-e2e-auth-'))
  const file = join(dir, 'runnel.toml')
  writeFileSync(file, config)
  browser = await launch()
  server = await startServer({ env: { RUNNEL_CONFIG: file } })
})
after(async () => {
  await browser?.close()
  await server?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function logIn(page, user, password) {
  await page.getByTestId('login-user').fill(user)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
}

const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('runnel-auth-tokens') ?? 'null')?.access_token ?? null)

test('the admin API refuses calls without a token', async () => {
  for (const [method, path] of [['GET', 'flows'], ['POST', 'flows'], ['GET', 'nodes'], ['GET', 'metrics']]) {
    const r = await fetch(server.url + path, { method })
    assert.equal(r.status, 401, `${method} /${path}`)
  }
  assert.equal((await fetch(server.url + 'healthz')).status, 200)
})

test('a wrong password shows an error; a full user deploys, and logs out', async () => {
  const { page, errors } = await newPage(browser)
  await page.goto(server.url)
  await page.getByTestId('login-form').waitFor()
  await shot(page, '30-login')
  await logIn(page, 'admin', 'not-the-password')
  assert.equal(await page.getByTestId('login-error').textContent(), 'Wrong username or password')
  await shot(page, '31-login-error')
  assert.equal(await stored(page), null)

  await logIn(page, 'admin', 'admin-pass')
  await page.waitForFunction(() => window.__runnelReady > 0, null, { timeout: 15_000 })
  assert.equal(await page.getByTestId('user').textContent(), 'admin')
  const token = await stored(page)
  assert.ok(token, 'the token is kept in localStorage')
  // The websocket took the same session.
  const conn = page.getByTestId('connection')
  await until(5000, 'the websocket to open', async () => (await conn.getAttribute('data-state')) === 'open')

  const before = (await (await fetch(server.url + 'flows', { headers: { Authorization: 'Bearer ' + token } })).json()).length
  const box = await page.locator('.rn-canvas').boundingBox()
  await dragFromPalette(page, 'debug', box.x + 500, box.y + 400)
  const deploy = page.getByTestId('deploy')
  assert.equal(await deploy.isEnabled(), true)
  await deploy.click()
  await page.getByTestId('notice-success').waitFor()
  const after = await (await fetch(server.url + 'flows', { headers: { Authorization: 'Bearer ' + token } })).json()
  assert.equal(after.length, before + 1)
  // The revision names who deployed it.
  const revs = await (await fetch(server.url + 'flows/revisions', { headers: { Authorization: 'Bearer ' + token } })).json()
  assert.equal(revs.revisions[0].user, 'admin')

  // Reloading the page keeps the login.
  await openEditor(page, server.url)
  assert.equal(await page.getByTestId('user').textContent(), 'admin')

  await page.getByTestId('logout').click()
  await page.getByTestId('login-form').waitFor()
  assert.equal(await stored(page), null)
  assert.equal((await fetch(server.url + 'flows', { headers: { Authorization: 'Bearer ' + token } })).status, 401, 'the token is revoked')
  assert.deepEqual(errors, [])
})

test('a read-only user sees Deploy disabled and cannot change the flows', async () => {
  const { page, errors } = await newPage(browser)
  await page.goto(server.url)
  await logIn(page, 'viewer', 'viewer-pass')
  await page.waitForFunction(() => window.__runnelReady > 0, null, { timeout: 15_000 })
  assert.equal(await page.getByTestId('user').textContent(), 'viewer · read-only')
  const conn = page.getByTestId('connection')
  await until(5000, 'the websocket to open', async () => (await conn.getAttribute('data-state')) === 'open')
  const box = await page.locator('.rn-canvas').boundingBox()
  await dragFromPalette(page, 'debug', box.x + 500, box.y + 300)
  const deploy = page.getByTestId('deploy')
  assert.equal(await deploy.isDisabled(), true)
  assert.equal(await deploy.getAttribute('title'), 'Read-only: your role cannot deploy')
  // Ctrl+D does not deploy either.
  await page.keyboard.press('Control+d')
  await shot(page, '32-read-only')
  // And the server refuses the read-only token's changes.
  const token = await stored(page)
  const r = await fetch(server.url + 'flows', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: '[]',
  })
  assert.equal(r.status, 403)
  assert.match((await r.json()).message, /"viewer" has the read role: POST \/flows needs the full role/)
  // Nor turn a debug node off: its button is disabled, and the server refuses.
  assert.equal(await page.getByTestId('debug-toggle').first().isDisabled(), true)
  const d = await fetch(server.url + 'debug/any/disable', { method: 'POST', headers: { Authorization: 'Bearer ' + token } })
  assert.equal(d.status, 403)
  assert.equal(await page.getByTestId('notice-success').count(), 0)
  assert.deepEqual(errors, [])
})

test('a session ended elsewhere asks for a login again and keeps the unsaved changes', async () => {
  const { page, errors } = await newPage(browser)
  await page.goto(server.url)
  await logIn(page, 'admin', 'admin-pass')
  await page.waitForFunction(() => window.__runnelReady > 0, null, { timeout: 15_000 })
  const conn = page.getByTestId('connection')
  await until(5000, 'the websocket to open', async () => (await conn.getAttribute('data-state')) === 'open')
  const box = await page.locator('.rn-canvas').boundingBox()
  await dragFromPalette(page, 'debug', box.x + 500, box.y + 200)
  const nodes = await page.locator('.react-flow__node').count()
  // The session ends (logged out in another tab, or expired): the server drops the websocket and the editor asks again.
  const token = await stored(page)
  const r = await fetch(server.url + 'auth/revoke', { method: 'POST', headers: { Authorization: 'Bearer ' + token } })
  assert.equal(r.status, 200)
  await page.getByTestId('login-form').waitFor()
  assert.equal(await page.locator('.rn-login-reason').textContent(), 'Your session has expired: please log in again.')
  await logIn(page, 'admin', 'admin-pass')
  await page.getByTestId('deploy').waitFor()
  assert.equal(await page.locator('.react-flow__node').count(), nodes, 'the undeployed node is still there')
  await until(5000, 'the websocket to open again', async () => (await conn.getAttribute('data-state')) === 'open')
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').waitFor()
  assert.deepEqual(errors.filter((e) => !/WebSocket/.test(e.message)), [])
})
