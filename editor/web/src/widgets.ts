// Form widgets chosen by a field's kind (engine.Field.Kind, set in Go with
// the kind:"..." tag), for settings that need more than a text box: the
// tray looks a field's kind up here before its own inputs, so that a node
// type gets such a form with no front-end code of its own.
import type { ComponentType } from 'react'
import { CronPicker } from './CronPicker'
import { LinkPicker } from './LinkPicker'
import './subflow.css'
import { SubflowEnvWidget } from './SubflowEnv'
import type { Field } from './types'

export interface WidgetProps {
  f: Field
  /** The object being edited (a node's draft). */
  obj: Record<string, unknown> & { id?: unknown; type: string }
  /** Patches the object: undefined removes a property. */
  set: (patch: Record<string, unknown>) => void
  id: string
  invalid: boolean
}

export const widgets: Record<string, ComponentType<WidgetProps>> = {
  /** inject's repeat: Node-RED's none / interval / interval between times / at a time, writing repeat or crontab. */
  schedule: CronPicker,
  /** A subflow instance's env: the definition's properties. */
  'subflow-env': SubflowEnvWidget,
  /** link out / link in / link call: the link nodes to link to, by flow (field's nodeType). */
  links: LinkPicker,
}
