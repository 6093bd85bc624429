/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // test/tfjs_node/ needs @tensorflow/tfjs-node: it runs in `npm run test:tfjs-node` (jest.tfjs-node.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/tfjs_node/'],
  transform: {
    // Type checking is done once by `npm run typecheck`; with isolatedModules ts-jest only transpiles,
    // which keeps the suite fast.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }],
  },
  setupFiles: ['<rootDir>/test/setup.ts'],
  testTimeout: 60000,
};
