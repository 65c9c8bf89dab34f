// Small shared pieces: a copy-to-clipboard button, a confirmation dialog, error and loading lines.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function CopyButton(props: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(props.text);
    } catch {
      // No clipboard (insecure origin): put the text where the user can copy it.
      prompt('Copy this command', props.text);
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return (
    <button type="button" class="copy" title={props.text} data-copy={props.text} onClick={copy}>
      {done ? 'Copied' : props.label}
    </button>
  );
}

/** A modal that asks before something is deleted; Escape or Cancel closes it. */
export function Confirm(props: {
  message: ComponentChildren;
  action: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} class="confirm" onCancel={props.onCancel} aria-label="Confirm">
      <p>{props.message}</p>
      <div class="actions">
        <button type="button" onClick={props.onCancel} autofocus>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.action}
        </button>
      </div>
    </dialog>
  );
}

export function ErrorLine(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/**
 * Marks `list-painted` on the page's performance timeline once the list just rendered has been
 * painted (the frame after the next): what the benchmark reads, from navigation start.
 */
export function markPainted(): void {
  requestAnimationFrame(() => setTimeout(() => performance.mark('list-painted'), 0));
}
