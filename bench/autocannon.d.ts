// autocannon ships no types (and @types/autocannon is not installed): its API is used untyped.
declare module 'autocannon';
