export * from '../../demo/fake-provider.js';
