/** The live seat map: scene, store, live feed hook, canvas renderer and its alternatives. */
export { SeatMap } from './components/SeatMap';
export { Legend } from './components/Legend';
export { SeatList } from './components/SeatList';
export { useLiveSeatMap, followLiveFeed } from './hooks/useLiveSeatMap';
export { SeatStore } from './lib/seatStore';
export { AVAILABLE, HELD, SOLD, seatLabel, type Scene } from './lib/scene';
export { drawSeats, type Viewport } from './lib/draw';
