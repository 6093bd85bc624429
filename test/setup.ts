import * as tf from '@tensorflow/tfjs';
import { loadTfjsNode, testBackendName } from './helpers/test_backend';

// Quiet tfjs's warnings (the "install tfjs-node" banner of the cpu backend). PROD, not IS_TEST: in
// tfjs-core IS_TEST also turns on a per-kernel leak check, which fails every fused kernel on tfjs-node.
tf.env().set('PROD', true);

// The tfjs-node suite: register the backend before any test file runs (tfjs-node makes it the default).
if (testBackendName() === 'tensorflow') loadTfjsNode();
