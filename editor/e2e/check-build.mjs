// npm run check:build: rebuilds the editor and fails if editor/dist differs
// from the copy committed in git (the Go binary embeds the committed copy).
import { execFileSync } from 'node:child_process'
import { repo } from './paths.mjs'

const run = (cmd, args) => execFileSync(cmd, args, { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })

run('npx', ['vite', 'build', '--logLevel', 'warn'])
const status = run('git', ['status', '--porcelain', '--untracked-files=all', '--', 'editor/dist'])
let diff = ''
try {
  run('git', ['diff', '--exit-code', '--stat', '--', 'editor/dist'])
} catch (e) {
  diff = e.stdout || 'git diff failed'
}
if (status.trim() || diff.trim()) {
  console.error('editor/dist is stale: run `npm run build` and commit editor/dist.')
  console.error(status || diff)
  process.exit(1)
}
console.log('editor/dist matches the committed build')
