import { Injectable } from '@nestjs/common';
import { MigrationHandler } from './migration-handler';

/** The registered handlers, by data type, in registration order. */
@Injectable()
export class MigrationHandlers {
  private readonly handlers = new Map<string, MigrationHandler>();

  register(handler: MigrationHandler): void {
    if (this.handlers.has(handler.type))
      throw new Error(`A migration handler for ${handler.type} is already registered`);
    this.handlers.set(handler.type, handler);
  }

  get(type: string): MigrationHandler | undefined {
    return this.handlers.get(type);
  }

  all(): MigrationHandler[] {
    return [...this.handlers.values()];
  }
}
