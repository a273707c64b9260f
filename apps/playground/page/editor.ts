/**
 * The code editor: CodeMirror 6 with Python, the usual editing keys, and Ctrl/Cmd-Enter to run.
 * Colours come from CSS variables (styles.css), so one theme follows the light and dark schemes.
 * It lives in a shadow root: see createEditor.
 */
import { indentWithTab } from '@codemirror/commands';
import { python } from '@codemirror/lang-python';
import { HighlightStyle, indentUnit, syntaxHighlighting } from '@codemirror/language';
import { EditorState, Prec } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { tags as t } from '@lezer/highlight';
import { basicSetup } from 'codemirror';

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword], color: 'var(--syn-keyword)' },
  { tag: [t.operatorKeyword, t.self], color: 'var(--syn-keyword)' },
  { tag: [t.string, t.special(t.string), t.regexp], color: 'var(--syn-string)' },
  { tag: [t.number, t.bool, t.null, t.atom], color: 'var(--syn-number)' },
  { tag: [t.comment, t.lineComment, t.blockComment], color: 'var(--syn-comment)', fontStyle: 'italic' },
  { tag: [t.function(t.definition(t.variableName)), t.function(t.variableName)], color: 'var(--syn-function)' },
  { tag: [t.definition(t.className), t.className], color: 'var(--syn-class)' },
  { tag: [t.standard(t.variableName), t.special(t.variableName)], color: 'var(--syn-builtin)' },
  { tag: [t.propertyName, t.attributeName], color: 'var(--syn-property)' },
  { tag: [t.operator, t.punctuation, t.bracket], color: 'var(--syn-punct)' },
  { tag: t.invalid, color: 'var(--syn-invalid)' },
]);

const theme = EditorView.theme({
  '&': { height: '100%', color: 'var(--fg)', backgroundColor: 'var(--editor-bg)', fontSize: 'var(--code-size)' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.6' },
  '.cm-content': { caretColor: 'var(--accent)', padding: '12px 0' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--accent)', borderLeftWidth: '2px' },
  '&.cm-focused': { outline: 'none' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, ::selection': {
    backgroundColor: 'var(--selection)',
  },
  '.cm-gutters': { backgroundColor: 'var(--editor-bg)', color: 'var(--muted)', border: 'none' },
  '.cm-lineNumbers .cm-gutterElement': { padding: '0 var(--gutter-right) 0 var(--gutter-left)' },
  '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--active-line)', color: 'var(--fg)' },
  '.cm-matchingBracket, &.cm-focused .cm-matchingBracket': {
    backgroundColor: 'var(--bracket-match)',
    outline: 'none',
  },
  '.cm-foldPlaceholder': { backgroundColor: 'var(--surface-2)', border: 'none', color: 'var(--muted)' },
  '.cm-tooltip': { backgroundColor: 'var(--surface)', border: '1px solid var(--border)', color: 'var(--fg)' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--on-accent)' },
  '.cm-panels': { backgroundColor: 'var(--surface)', color: 'var(--fg)' },
  '.cm-searchMatch': { backgroundColor: 'var(--search-match)' },
});

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  onRun: () => void;
  onChange: () => void;
}

export function createEditor(options: EditorOptions): EditorView {
  const run = () => {
    options.onRun();
    return true;
  };
  // In a shadow root, CodeMirror's styles go in a constructed stylesheet (adoptedStyleSheets); in the
  // document itself they would go in a <style> element, which the page's CSP (style-src 'self')
  // refuses. The colours still come through: CSS variables inherit into a shadow root.
  const shadow = options.parent.shadowRoot ?? options.parent.attachShadow({ mode: 'open' });
  return new EditorView({
    parent: shadow,
    root: shadow,
    state: EditorState.create({
      doc: options.doc,
      extensions: [
        // Above basicSetup's keymap, where Mod-Enter would insert a blank line.
        Prec.highest(keymap.of([{ key: 'Mod-Enter', run }])),
        basicSetup,
        keymap.of([indentWithTab]),
        indentUnit.of('    '),
        python(),
        syntaxHighlighting(highlight),
        theme,
        EditorView.contentAttributes.of({ 'aria-label': 'Python code' }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange();
        }),
      ],
    }),
  });
}

export function editorText(view: EditorView): string {
  return view.state.doc.toString();
}

export function setEditorText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
