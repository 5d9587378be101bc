import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root. */
export const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
