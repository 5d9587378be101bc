// The shapes the admin API speaks (see editor/api.go and flows/).

/** One object of a flow document: a tab, a flow node or a config node. Unknown properties are kept. */
export interface FlowObj {
  id: string
  type: string
  z?: string
  name?: string
  x?: number
  y?: number
  wires?: string[][]
  [prop: string]: unknown
}

export type FieldKind =
  | 'string' | 'select' | 'boolean' | 'integer' | 'number' | 'json' | 'node' | 'code' | 'password' | 'hidden'
  | (string & {})

/** One setting of a node type, from its Go config struct. */
export interface Field {
  name: string
  label?: string
  kind: FieldKind
  default?: unknown
  options?: string[]
  required?: boolean
  nodeType?: string
  lang?: string
  help?: string
}

/** One entry of GET /nodes. */
export interface NodeType {
  type: string
  category: string
  label?: string
  inputs: number
  outputs: number
  color?: string
  help?: string
  config?: boolean
  fields: Field[] | null
  module?: string
  nodeRed?: string
}

/** One problem of a rejected deploy. */
export interface Problem {
  id?: string
  type?: string
  field?: string
  line?: number
  error: string
}

export type DeployType = 'full' | 'flows' | 'nodes'

export interface StatusData {
  fill?: string
  shape?: string
  text?: string
}

export interface Rate {
  in: number
  out: number
  err: number
  inTotal: number
  outTotal: number
  errTotal: number
}
