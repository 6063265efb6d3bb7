// spare-controllers.ts: AbortControllers handed out one per request and taken back for the next
// one. Made per request, AbortControllers kept every request's objects alive through V8's
// young-generation GCs in the server (0.35 MB promoted per scavenge at one client; SessionPool's
// note says more). A controller comes back only once no one listens on its signal any more (its
// request is answered, its run over); one that was aborted is never reused.
const MOST_SPARE = 64;

export class SpareControllers {
  readonly #spare: AbortController[] = [];

  take(): AbortController {
    return this.#spare.pop() ?? new AbortController();
  }

  giveBack(controller: AbortController): void {
    if (!controller.signal.aborted && this.#spare.length < MOST_SPARE) this.#spare.push(controller);
  }
}
