// The classic builder's progress stream: `{"stream": …}` lines the docker CLI prints as they
// come, `{"aux": {"ID": …}}` for the image ID, and `{"errorDetail": …, "error": …}` to end a
// failed build. With -q nothing but the image ID is shown, unless the build fails.
export type JsonWriter = (msg: unknown) => void;

export class BuildOutput {
  private held = '';

  constructor(
    private readonly write: JsonWriter,
    private readonly quiet: boolean,
  ) {}

  stream(text: string): void {
    if (this.quiet) this.held += text;
    else this.write({ stream: text });
  }

  /** A pull's progress message (FROM of an absent image), shown as the CLI shows a pull. */
  progress(msg: Record<string, unknown>): void {
    if (!this.quiet) this.write(msg);
  }

  aux(value: unknown): void {
    this.write({ aux: value });
  }

  /** The image ID line that -q prints. */
  result(text: string): void {
    this.write({ stream: text });
  }

  error(message: string, code?: number): void {
    if (this.quiet && this.held) this.write({ stream: this.held });
    this.held = '';
    const detail = code === undefined ? { message } : { code, message };
    this.write({ errorDetail: detail, error: message });
  }
}

export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
