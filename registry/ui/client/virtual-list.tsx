// A list that renders only the rows in view (fixed row height), so thousands of tags scroll
// without thousands of DOM nodes and without the layout moving while pages load. Keyboard:
// the list is one tab stop; Up/Down/PageUp/PageDown/Home/End move the active row, Enter opens it.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export const ROW_HEIGHT = 56;
const OVERSCAN = 6;

export function VirtualList(props: {
  count: number;
  label: string;
  row: (index: number, active: boolean) => ComponentChildren;
  onOpen: (index: number) => void;
  onRange?: (first: number, last: number) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [active, setActive] = useState(0);
  useEffect(() => {
    const el = box.current!;
    const measure = (): void => setHeight(el.clientHeight || 600);
    measure();
    addEventListener('resize', measure);
    return () => removeEventListener('resize', measure);
  }, []);
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.count, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => props.onRange?.(first, last), [first, last, props.count]);

  const move = (to: number): void => {
    const i = Math.max(0, Math.min(props.count - 1, to));
    setActive(i);
    const el = box.current!;
    if (i * ROW_HEIGHT < el.scrollTop) el.scrollTop = i * ROW_HEIGHT;
    else if ((i + 1) * ROW_HEIGHT > el.scrollTop + el.clientHeight)
      el.scrollTop = (i + 1) * ROW_HEIGHT - el.clientHeight;
  };
  const page = Math.max(1, Math.floor(height / ROW_HEIGHT) - 1);
  const onKey = (e: KeyboardEvent): void => {
    const keys: Record<string, number> = {
      ArrowDown: active + 1,
      ArrowUp: active - 1,
      PageDown: active + page,
      PageUp: active - page,
      Home: 0,
      End: props.count - 1,
    };
    if (e.key in keys) {
      e.preventDefault();
      move(keys[e.key]!);
    } else if (e.key === 'Enter' && e.target === box.current && props.count > 0) {
      e.preventDefault();
      props.onOpen(active);
    }
  };
  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++)
    rows.push(
      <div
        key={i}
        id={`row-${i}`}
        role="listitem"
        class={`vrow${i === active ? ' active' : ''}`}
        data-row={i}
        style={{ transform: `translateY(${i * ROW_HEIGHT}px)` }}
      >
        {props.row(i, i === active)}
      </div>,
    );
  return (
    <div
      ref={box}
      class="vlist"
      role="list"
      aria-label={props.label}
      tabIndex={0}
      aria-activedescendant={props.count ? `row-${active}` : undefined}
      onScroll={(e) => setTop((e.currentTarget as HTMLDivElement).scrollTop)}
      onKeyDown={onKey}
    >
      <div class="vspace" style={{ height: `${props.count * ROW_HEIGHT}px` }}>
        {rows}
      </div>
    </div>
  );
}
