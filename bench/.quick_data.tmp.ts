import { pipelineBenchmarks } from './data_pipeline';
import { printTable } from './bench_row';
pipelineBenchmarks({ scale: 0.02 }).then(printTable);
