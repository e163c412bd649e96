/**
 * A minimal AsyncLocalStorage context manager, installed globally once per process.
 *
 * Without a global context manager `context.active()` is always ROOT, so nested spans (the ai SDK's
 * `ai.generateText` -> `ai.generateText.doGenerate`) would lose their parent. NodeTracerProvider#register
 * would install one, but it also claims the global tracer provider; the harness wants one provider per
 * capture, so it installs only the context manager (same semantics as @opentelemetry/context-async-hooks'
 * AsyncLocalStorageContextManager for functions; other targets are returned unchanged).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, context, type Context, type ContextManager } from '@opentelemetry/api';

class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg == null ? fn : fn.bind(thisArg);
    return this.als.run(ctx, cb as (...a: A) => ReturnType<F>, ...args);
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const manager = this;
    const fn = target as unknown as (...a: unknown[]) => unknown;
    const bound = function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => fn.apply(this, args));
    };
    Object.defineProperty(bound, 'length', { value: fn.length });
    return bound as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.als.disable();
    return this;
  }
}

let installed = false;

/** Installs the global context manager once; later calls are no-ops. */
export function ensureContextManager(): void {
  if (installed) return;
  // If something else (e.g. NodeTracerProvider#register elsewhere in the process) installed one first,
  // setGlobalContextManager refuses and that one stays in place, which is just as good.
  context.setGlobalContextManager(new AlsContextManager());
  installed = true;
}
