// This editor page's session id: random, new on every load. Deploys and
// rollbacks send it (the Runnel-Session header) and the server echoes it in
// the deploy event, so the editor knows which deploys are its own.
const bytes = new Uint8Array(16)
// getRandomValues works on plain http too (randomUUID needs a secure context).
crypto.getRandomValues(bytes)

export const sessionId = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

export const sessionHeader = { 'Runnel-Session': sessionId }
