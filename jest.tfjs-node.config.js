/**
 * `npm run test:tfjs-node`: the resume guarantees again, on backend `tensorflow` (@tensorflow/tfjs-node).
 * The same test files as `npm test`, not copies: test/setup.ts and test/helpers/test_backend.ts read
 * TFJS_RESUMABLE_TEST_BACKEND=tensorflow (set by the npm script) and fail when tfjs-node does not load,
 * and test/tfjs_node/ adds what only exists there (oneDNN, TensorBoard event files).
 * @type {import('jest').Config}
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: [
    '<rootDir>/test/reliability/**/*.test.ts',
    '<rootDir>/test/data/resume_property.test.ts',
    '<rootDir>/test/data/fit_dataset_resume.test.ts',
    '<rootDir>/test/estimator/resumable_fit.test.ts',
    '<rootDir>/test/estimator/estimator.test.ts',
    '<rootDir>/test/tfjs_node/**/*.test.ts',
  ],
};
