/** Every element of index.html the script drives, found once: a missing one fails at load, not mid-run. */
import { byId } from './dom.js';

export function findElements() {
  return {
    editor: byId('editor', HTMLDivElement),
    examples: byId('examples', HTMLSelectElement),
    environment: byId('environment', HTMLSelectElement),
    share: byId('share', HTMLButtonElement),
    keyToggle: byId('key-toggle', HTMLButtonElement),
    keyRow: byId('key-row', HTMLDivElement),
    apiKey: byId('api-key', HTMLInputElement),
    keyHint: byId('key-hint', HTMLSpanElement),
    run: byId('run', HTMLButtonElement),
    runKeys: byId('run-keys', HTMLElement),
    footerMod: byId('footer-mod', HTMLElement),
    stop: byId('stop', HTMLButtonElement),
    drawer: byId('drawer', HTMLDivElement),
    tabInput: byId('tab-input', HTMLButtonElement),
    tabTests: byId('tab-tests', HTMLButtonElement),
    panelInput: byId('panel-input', HTMLDivElement),
    panelTests: byId('panel-tests', HTMLDivElement),
    testsCount: byId('tests-count', HTMLSpanElement),
    stdin: byId('stdin', HTMLTextAreaElement),
    useTests: byId('use-tests', HTMLInputElement),
    addTest: byId('add-test', HTMLButtonElement),
    testsEmpty: byId('tests-empty', HTMLParagraphElement),
    testsList: byId('tests-list', HTMLDivElement),
    badge: byId('badge', HTMLSpanElement),
    stats: byId('stats', HTMLSpanElement),
    outputScroll: byId('output-scroll', HTMLDivElement),
    console: byId('console', HTMLDivElement),
    figures: byId('figures', HTMLDivElement),
    inputForm: byId('input-form', HTMLFormElement),
    inputLine: byId('input-line', HTMLInputElement),
    sendEof: byId('send-eof', HTMLButtonElement),
    serverInfo: byId('server-info', HTMLSpanElement),
    toast: byId('toast', HTMLDivElement),
  };
}

export type Elements = ReturnType<typeof findElements>;
