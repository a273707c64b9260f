/**
 * Small DOM helpers. Text always goes in as text (textContent), never as HTML: program output and
 * error messages are the program's own bytes. No style attributes either: the CSP allows only the
 * stylesheet, so looks are classes.
 */

export function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id} of the expected kind`);
  return found;
}

export interface ElementProps {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: ElementProps = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

/** Toggles the `hidden` attribute (the stylesheet keeps it authoritative). */
export function show(node: HTMLElement, visible: boolean): void {
  node.hidden = !visible;
}
